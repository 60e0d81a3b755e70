import { httpRouter } from "convex/server";
import { httpAction } from "./_generated/server";

const http = httpRouter();
http.route({
    path: "/whoami",
    method: "GET",
    handler: httpAction(async (ctx) => {
        const identity = await ctx.auth.getUserIdentity();
        return new Response(JSON.stringify({ identity }), {
            headers: { "content-type": "application/json" },
        });
    }),
});
export default http;
