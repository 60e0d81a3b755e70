// Fixture for tests/integration/webapi.test.mjs: web APIs in actions and queries (the cases are
// in _lib/cases.mjs, shared with the test, which runs them in Node too), timers in actions,
// the deterministic subset and its errors in queries and mutations.
import { query, mutation, action, v } from "./_generated/server";
import { runCase } from "./_lib/cases.mjs";

export const inAction = action({
  args: { name: v.string(), input: v.optional(v.any()) },
  handler: async (_ctx, { name, input }) => runCase(name, input),
});

export const inQuery = query({
  args: { name: v.string(), input: v.optional(v.any()) },
  handler: async (_ctx, { name, input }) => runCase(name, input),
});

export const inMutation = mutation({
  args: { name: v.string(), input: v.optional(v.any()) },
  handler: async (_ctx, { name, input }) => runCase(name, input),
});

let leaked = false; // set by a timer that an earlier action left behind, if it ever fired

export const sleep = action({
  args: { ms: v.number() },
  handler: async (_ctx, { ms }) => {
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, ms));
    return Date.now() - t0;
  },
});

export const leaveTimer = action({
  args: {},
  handler: async () => {
    leaked = false;
    setTimeout(() => { leaked = true; }, 50);
    setInterval(() => { leaked = true; }, 20);
    return "left";
  },
});

export const sawLeak = action({
  args: {},
  handler: async () => {
    await new Promise((r) => setTimeout(r, 200));
    return leaked;
  },
});

export const manyTimers = action({
  args: { n: v.number() },
  handler: async (_ctx, { n }) => {
    const ids = [];
    for (let i = 0; i < n; i++) ids.push(setTimeout(() => {}, 60000));
    for (const id of ids) clearTimeout(id);
    // cleared timers free their places: as many again fit
    let fired = 0;
    await new Promise((r) => {
      for (let i = 0; i < n; i++) ids.push(setTimeout(() => { if (++fired === n) r(); }, 5));
    });
    return ids.length;
  },
});

export const spinInTimer = action({
  args: {},
  handler: async () => {
    await new Promise((r) => setTimeout(() => { for (;;) {} }, 5));
    return "never";
  },
});

export const throwInTimer = action({
  args: {},
  handler: async () => {
    setTimeout(() => { throw new Error("timer boom"); }, 1);
    await new Promise((r) => setTimeout(r, 30));
    return "went on";
  },
});

export const neverSettles = action({
  args: {},
  handler: async () => {
    await new Promise(() => {});
  },
});

export const intervalInQuery = query({
  args: {},
  handler: async () => setInterval(() => {}, 10),
});

const randomPair = () => [crypto.randomUUID(), Array.from(crypto.getRandomValues(new Uint8Array(8)))];
export const uuid = action({ args: {}, handler: async () => randomPair() });
export const uuidQuery = query({ args: {}, handler: async () => randomPair() });
export const uuidMutation = mutation({ args: {}, handler: async () => randomPair() });
