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

// Ways around the constructor caps that must not work.
export const stringLength = query({
  args: {},
  handler: () => new Uint8Array("4000000000" as any).length,
});
export const resizable = query({
  args: {},
  handler: () => {
    const b = new (ArrayBuffer as any)(8, { maxByteLength: 2 ** 32 });
    b.resize(2 ** 32);
    return b.byteLength;
  },
});
export const transfer = query({
  args: {},
  handler: () => (new ArrayBuffer(8) as any).transfer(2 ** 32).byteLength,
});
export const views = query({
  args: {},
  handler: () => [
    new Uint8Array(new ArrayBuffer(16), 4, 8).length,
    new Float64Array([1, 2, 3]).length,
    new Uint8Array(5).subarray(1).length,
    Uint8Array.from([1, 2]).length,
    new Uint8Array(3) instanceof Uint8Array,
    new Uint8Array(3).constructor === Uint8Array,
  ],
});
