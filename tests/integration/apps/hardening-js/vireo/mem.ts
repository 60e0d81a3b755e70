// Greedy handlers: each must fail with MemoryLimit or ExecutionTimeout, and give memory back.
import { query, mutation } from "./_generated/server";

export const bigTyped = mutation({
  args: {},
  handler: () => new Uint8Array(4000 * 2 ** 20).fill(7).length,
});

export const bigBuffer = query({ args: {}, handler: () => new ArrayBuffer(2 ** 31).byteLength });

export const stringDoubling = query({
  args: {},
  handler: () => {
    let s = "ab";
    const keep: string[] = [];
    for (;;) {
      s = s + s;
      keep.push(s.slice(1)); // flattens the rope: real memory
    }
  },
});

export const pushLoop = query({
  args: {},
  handler: () => {
    const a: number[] = [];
    for (let i = 0; ; i++) a.push(i + 0.5);
  },
});

export const manyBuffers = query({
  args: {},
  handler: () => {
    const keep: Uint8Array[] = [];
    for (;;) keep.push(new Uint8Array(1 << 20).fill(1));
  },
});

export const repeat = query({ args: {}, handler: () => "xy".repeat(2 ** 29).length });

export const small = query({
  args: {},
  handler: () => new Uint8Array(1 << 20).fill(1).length + "ab".repeat(1000).length,
});
