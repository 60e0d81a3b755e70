// Fixture for tests/integration/convex-http.test.mjs: functions the official ConvexHttpClient
// calls over Vireo's HTTP API in Convex's shape (queries, mutations, actions, console lines,
// ConvexError data, int64/bytes/special floats, argument validation).
import { query, mutation, action, internalQuery, v, ConvexError } from "./_generated/server";
import { api } from "./_generated/api";

export const list = query({
  args: {},
  handler: async (ctx) => {
    const all = await ctx.db.query("messages").collect();
    return all.map(({ author, body }) => ({ author, body }));
  },
});

export const send = mutation({
  args: { author: v.string(), body: v.string() },
  handler: async (ctx, { author, body }) => {
    console.log("sending", body);
    await ctx.db.insert("messages", { author, body });
    return null;
  },
});

export const count = query({
  args: {},
  handler: async (ctx) => {
    return (await ctx.db.query("messages").collect()).length;
  },
});

export const chatty = query({
  args: {},
  handler: async () => {
    console.log("hello");
    console.info("info", 1, true);
    console.warn("careful", { n: 1, list: [1, 2] });
    console.error("bad");
    console.debug("dbg");
    return "done";
  },
});

export const flood = query({
  args: { n: v.number(), size: v.number() },
  handler: async (_ctx, { n, size }) => {
    const s = "x".repeat(size);
    for (let i = 0; i < n; i++) console.log(i, s);
    return n;
  },
});

export const echo = query({
  args: { value: v.any() },
  handler: async (_ctx, { value }) => value,
});

export const echoAction = action({
  args: { value: v.any() },
  handler: async (ctx, { value }) => {
    console.log("action sees", typeof value);
    const n = await ctx.runQuery(api.messages.chatty, {});
    return { value, n };
  },
});

export const failWithData = mutation({
  args: {},
  handler: async () => {
    console.log("about to fail");
    throw new ConvexError({ code: "NOPE", count: 3n, raw: new Uint8Array([1, 2]).buffer });
  },
});

export const failWithString = query({
  args: {},
  handler: async () => {
    throw new ConvexError("plain message");
  },
});

export const boom = query({
  args: {},
  handler: async () => {
    throw new Error("boom");
  },
});

// what was thrown, by its class: Convex's texts name it ("Uncaught TypeError: ...")
class NotFoundError extends Error {
  constructor(m: string) { super(m); this.name = "NotFoundError"; }
}
class FooError extends ConvexError<any> {
  constructor(data: any) { super(data); this.name = "FooError"; }
}
export const throwKind = query({
  args: { kind: v.string() },
  handler: async (_ctx, { kind }) => {
    if (kind === "type") throw new TypeError("bad type");
    if (kind === "custom") throw new NotFoundError("no such doc");
    if (kind === "convexSub") throw new FooError({ code: 123n });
    if (kind === "null") { const x: any = null; return x.field; }
    if (kind === "string") throw "plain string";
    throw new Error("plain");
  },
});
export const throwKindMutation = mutation({
  args: {},
  handler: async () => { throw new RangeError("out of range"); },
});

export const actionBoom = action({
  args: {},
  handler: async () => {
    console.log("action log");
    throw new ConvexError({ where: "action" });
  },
});

export const typed = query({
  args: { n: v.number(), name: v.string() },
  handler: async (_ctx, { n, name }) => `${name}:${n}`,
});

export const secret = internalQuery({ args: {}, handler: async () => "hidden" });

// the caller's identity (an admin acting as a user: setAdminAuth(key, identity))
export const identity = query({ args: {}, handler: async (ctx) => await ctx.auth.getUserIdentity() });
export const identityMutation = mutation({
  args: {},
  handler: async (ctx) => await ctx.auth.getUserIdentity(),
});

// the rest of the console namespace: counters, timers, assert, groups, table and dir
export const consoleMore = query({
  args: {},
  handler: async () => {
    console.count();
    console.count("x");
    console.count("x");
    console.countReset("x");
    console.count("x");
    console.countReset("nope");
    console.time("t");
    console.time("t");
    console.timeLog("t", "midway");
    console.timeEnd("t");
    console.timeEnd("t");
    console.assert(true, "never printed");
    console.assert(1 === 2, "math is %s", "broken");
    console.assert(false);
    console.group("outer");
    console.log("inside");
    console.group();
    console.info("deeper", 1);
    console.groupEnd();
    console.groupEnd();
    console.groupEnd(); // one too many: nothing happens
    console.table([{ a: 1 }]);
    console.dir({ b: 2 });
    return "done";
  },
});

// Nested calls it does not await: dangling when it returns (Convex warns of them)
export const dangling = action({
  args: { n: v.number() },
  handler: async (ctx, { n }) => {
    for (let i = 0; i < n; i++) void ctx.runMutation(api.messages.send, { author: "dangling", body: `${i}` });
    return "returned";
  },
});
