import { httpRouter } from "convex/server";
import { httpAction } from "./_generated/server";
import { api } from "./_generated/api";

const http = httpRouter();
http.route({
  path: "/notes",
  method: "GET",
  handler: httpAction(async (ctx) => Response.json(await ctx.runQuery(api.notes.list, {}))),
});
export default http;
