// Convex's documented HTTP action patterns for files: store a request's body, serve a file.
import { httpRouter } from "convex/server";
import { httpAction } from "./_generated/server";

const http = httpRouter();

http.route({
  path: "/sendImage",
  method: "POST",
  handler: httpAction(async (ctx, request) => {
    const storageId = await ctx.storage.store(await request.blob());
    return Response.json({ storageId });
  }),
});

http.route({
  path: "/getImage",
  method: "GET",
  handler: httpAction(async (ctx, request) => {
    const id = new URL(request.url).searchParams.get("storageId")!;
    const blob = await ctx.storage.get(id as any);
    if (blob === null) return new Response("Image not found", { status: 404 });
    return new Response(blob);
  }),
});

export default http;
