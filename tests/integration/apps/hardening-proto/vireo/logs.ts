// Runtime errors name source lines, not bundle positions.
import { query } from "./_generated/server";

export const logError = query({
  args: {},
  handler: async () => {
    console.error(new Error("logged here"));
    return 1;
  },
});

export const throwStack = query({
  args: {},
  handler: async () => {
    const inner = new Error("inner");
    throw new Error("wrapped: " + inner.stack);
  },
});

export const throwPlain = query({
  args: {},
  handler: async () => {
    throw new Error("no positions in this message");
  },
});
