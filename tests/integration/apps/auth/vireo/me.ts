import { query, mutation, action, internalMutation } from "./_generated/server";
import { api, internal } from "./_generated/api";

// The caller's identity, as ctx.auth sees it.
export const whoami = query({
    args: {},
    handler: async (ctx) => await ctx.auth.getUserIdentity(),
});

export const subject = query({
    args: {},
    handler: async (ctx) => (await ctx.auth.getUserIdentity())?.subject ?? null,
});

// A write that depends on the caller; it also schedules a function, which runs with no identity.
export const record = mutation({
    args: {},
    handler: async (ctx) => {
        const who = (await ctx.auth.getUserIdentity())?.subject ?? null;
        await ctx.db.insert("notes", { who });
        await ctx.scheduler.runAfter(0, internal.me.scheduled, {});
        return who;
    },
});

export const scheduled = internalMutation({
    args: {},
    handler: async (ctx) => {
        const who = (await ctx.auth.getUserIdentity())?.subject ?? null;
        await ctx.db.insert("seen", { who });
    },
});

export const seen = query({
    args: {},
    handler: async (ctx) => (await ctx.db.query("seen").collect()).map((d) => d.who),
});

// An action's own identity, and what its nested calls see.
export const act = action({
    args: {},
    handler: async (ctx) => {
        const self = (await ctx.auth.getUserIdentity())?.subject ?? null;
        const nested = await ctx.runQuery(api.me.subject, {});
        const wrote = await ctx.runMutation(api.me.record, {});
        return { self, nested, wrote };
    },
});

// Changes the identity object it was given: the next call must not see that.
export const tamper = query({
    args: {},
    handler: async (ctx) => {
        const id = await ctx.auth.getUserIdentity();
        if (id) id.subject = "tampered";
        return (await ctx.auth.getUserIdentity())?.subject ?? null;
    },
});
