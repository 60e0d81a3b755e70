import { httpRouter } from "convex/server";
import { httpAction, query } from "./_generated/server";

const http = httpRouter();

http.route({
  path: "/hello",
  method: "GET",
  handler: httpAction(async () => new Response("hello")),
});
http.route({
  pathPrefix: "/files/",
  method: "POST",
  handler: httpAction(async () => new Response(null, { status: 204 })),
});

// a named export of http.ts is a function like any other
export const routes = query({
  args: {},
  handler: async () => http.getRoutes().map(([path, method]) => `${method} ${path}`),
});

export default http;
