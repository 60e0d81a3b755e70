import { httpRouter } from "convex/server";
import { httpAction } from "./_generated/server";
import { api } from "./_generated/api";

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
/* as Convex's own test of custom Authorization headers: the request goes through with its header
 * and only getUserIdentity() fails */
http.route({
    path: "/authHeader",
    method: "GET",
    handler: httpAction(async (ctx, request) => {
        let identity: unknown;
        let error: string | null = null;
        try {
            identity = await ctx.auth.getUserIdentity();
        } catch (e) {
            identity = "error";
            error = (e as Error).message;
        }
        const nested = await ctx.runQuery(api.me.subject, {}).then((v) => v, (e) => `error: ${(e as Error).message}`);
        return new Response(JSON.stringify({ authorizationHeader: request.headers.get("authorization"), identity, error, nested }), {
            headers: { "content-type": "application/json" },
        });
    }),
});
export default http;
