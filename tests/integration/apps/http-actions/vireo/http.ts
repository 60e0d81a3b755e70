// Fixture of tests/integration/http-actions.test.mjs: an httpRouter with exact paths, prefixes,
// every method, JSON and binary bodies, headers, errors, and ctx calls.
import { httpRouter } from "convex/server";
import { ConvexError } from "convex/values";
import { httpAction } from "./_generated/server";
import { api, internal } from "./_generated/api";

const http = httpRouter();

http.route({
  path: "/hello",
  method: "GET",
  handler: httpAction(async (ctx, request) => {
    const url = new URL(request.url);
    const name = url.searchParams.get("name") ?? "world";
    return new Response(`hello ${name}`, {
      status: 200,
      headers: { "Content-Type": "text/plain; charset=utf-8", "X-Method": request.method },
    });
  }),
});

http.route({
  path: "/hello",
  method: "POST",
  handler: httpAction(async (ctx, request) => {
    const body = await request.json();
    return Response.json({ got: body, method: request.method, path: new URL(request.url).pathname },
                         { status: 201 });
  }),
});

// echoes the request: method, url, headers, body bytes (reversed, to prove they were read)
http.route({
  pathPrefix: "/echo/",
  method: "PUT",
  handler: httpAction(async (ctx, request) => {
    const bytes = new Uint8Array(await request.arrayBuffer());
    const out = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = bytes[bytes.length - 1 - i];
    return new Response(out, {
      headers: {
        "content-type": "application/octet-stream",
        "x-url": request.url,
        "x-got-header": request.headers.get("x-custom") ?? "",
        "x-length": String(bytes.length),
      },
    });
  }),
});

// prefix routes: the longest prefix wins, an exact path beats every prefix
const tag = (name: string) =>
  httpAction(async (ctx, request) => new Response(`${name} ${new URL(request.url).pathname}`));
http.route({ pathPrefix: "/p/", method: "GET", handler: tag("short") });
http.route({ pathPrefix: "/p/long/", method: "GET", handler: tag("long") });
http.route({ path: "/p/long/exact", method: "GET", handler: tag("exact") });
http.route({ pathPrefix: "/", method: "DELETE", handler: tag("root-delete") });

for (const method of ["PATCH", "DELETE", "OPTIONS"] as const) {
  http.route({
    path: "/methods",
    method,
    handler: httpAction(async (ctx, request) => new Response(null, {
      status: method === "OPTIONS" ? 204 : 200,
      headers: {
        "x-method": request.method,
        "Access-Control-Allow-Origin": "https://app.example",
        "Access-Control-Allow-Methods": "PATCH, DELETE",
      },
    })),
  });
}

http.route({
  path: "/cookies",
  method: "GET",
  handler: httpAction(async () => {
    const h = new Headers();
    h.append("Set-Cookie", "a=1; Path=/");
    h.append("Set-Cookie", "b=2; HttpOnly");
    h.set("Location", "/hello");
    return new Response("", { status: 302, headers: h });
  }),
});

http.route({
  path: "/status",
  method: "GET",
  handler: httpAction(async (ctx, request) => {
    const code = Number(new URL(request.url).searchParams.get("code"));
    return new Response(code === 204 ? null : `status ${code}`, { status: code });
  }),
});

http.route({
  path: "/throws",
  method: "GET",
  handler: httpAction(async (_ctx, request) => {
    if (new URL(request.url).searchParams.get("convex")) throw new ConvexError({ code: "NOPE", n: 5n });
    console.log("about to throw");
    throw new Error("boom from an HTTP action");
  }),
});

http.route({
  path: "/not-a-response",
  method: "GET",
  handler: httpAction(async () => ({ status: 200, body: "plain object" }) as any),
});

http.route({
  path: "/notes",
  method: "POST",
  handler: httpAction(async (ctx, request) => {
    const { text } = await request.json();
    const id = await ctx.runMutation(api.notes.add, { text });
    const all = await ctx.runQuery(api.notes.list, {});
    const loud = await ctx.runAction(api.notes.shout, { text });
    const who = await ctx.auth.getUserIdentity();
    return Response.json({ id, count: all.length, loud, who, storage: typeof (ctx as any).storage });
  }),
});

http.route({
  path: "/notes/later",
  method: "POST",
  handler: httpAction(async (ctx, request) => {
    const { text } = await request.json();
    const job = await ctx.scheduler.runAfter(0, internal.notes.addLater, { text });
    return Response.json({ job });
  }),
});

http.route({
  path: "/slow",
  method: "GET",
  handler: httpAction(async (ctx, request) => {
    const n = Number(new URL(request.url).searchParams.get("n"));
    const end = Date.now() + 20;
    while (Date.now() < end) { /* a little CPU, so that requests overlap */ }
    return Response.json({ n });
  }),
});

http.route({
  path: "/shadowed.txt",
  method: "GET",
  handler: httpAction(async () => new Response("from the route")),
});

export default http;
