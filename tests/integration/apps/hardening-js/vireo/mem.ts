// Greedy handlers: each must fail with MemoryLimit or ExecutionTimeout, and give memory back.
import { query, mutation } from "./_generated/server";

export const bigTyped = mutation({
  args: {},
  handler: () => new Uint8Array(4000 * 2 ** 20).fill(7).length,
});

export const bigBuffer = query({ args: {}, handler: () => new ArrayBuffer(2 ** 31).byteLength });

// a rope doubled until its length passes JavaScriptCore's largest string: its own RangeError
export const stringRope = query({
  args: {},
  handler: () => {
    let s = "ab";
    for (;;) s = s + s;
  },
});

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

// WebAssembly memories: charged their pages as they are made or grown, and kept within the limit.
export const wasmMemory = mutation({
  args: {},
  handler: () => {
    const m = new WebAssembly.Memory({ initial: 16384 }); // 1 GiB
    return new Uint8Array(m.buffer).fill(1).length;
  },
});
export const wasmGrow = mutation({
  args: {},
  handler: () => {
    const m = new WebAssembly.Memory({ initial: 1 });
    m.grow(16383);
    return new Uint8Array(m.buffer).fill(1).length;
  },
});
// (module (memory (export "mem") MIN) (func (export "grow") (param i32) (result i32)
//   local.get 0 memory.grow)): a module's own memory, no maximum declared
function growModule(minPages: number) {
  const min = minPages < 128 ? [minPages] : [(minPages & 0x7f) | 0x80, minPages >> 7];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f,
    0x03, 0x02, 0x01, 0x00,
    0x05, 2 + min.length, 0x01, 0x00, ...min,
    0x07, 0x0e, 0x02, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, 0x04, 0x67, 0x72, 0x6f, 0x77, 0x00, 0x00,
    0x0a, 0x08, 0x01, 0x06, 0x00, 0x20, 0x00, 0x40, 0x00, 0x0b,
  ]);
}
export const wasmModuleGrow = mutation({
  args: {},
  handler: async () => {
    const { instance } = await WebAssembly.instantiate(growModule(1), {});
    const grow = instance.exports.grow as (n: number) => number;
    const mem = instance.exports.mem as WebAssembly.Memory;
    const past = grow(16383); // to 1 GiB: past the limit, so memory.grow fails (-1)
    const within = grow(15); // to 1 MiB: fine
    return [past, within, mem.buffer.byteLength];
  },
});
export const wasmModuleMin = mutation({
  args: {},
  handler: () => new WebAssembly.Module(growModule(16384)) instanceof WebAssembly.Module,
});
export const wasmSmall = query({
  args: {},
  handler: () => {
    const m = new WebAssembly.Memory({ initial: 2, maximum: 10 });
    const before = m.grow(1);
    const bad = [() => new WebAssembly.Memory({ initial: 2, maximum: 1 }),
                 () => new WebAssembly.Memory({ initial: 1, maximum: 65537 }),
                 () => new WebAssembly.Memory({ initial: 1, shared: true } as any)]
      .map((f) => { try { f(); return "made"; } catch (e: any) { return e.constructor.name; } });
    return [before, m.buffer.byteLength, WebAssembly.Memory.prototype.constructor === WebAssembly.Memory,
            new WebAssembly.Memory({ initial: 1 }) instanceof WebAssembly.Memory, ...bad];
  },
});

// Nothing may block the thread: no shared memory to wait on, Atomics.wait refused.
export const sharedMemory = mutation({
  args: {},
  handler: () => {
    const tries = [
      () => new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as any),
      () => (Atomics as any).wait(new Int32Array(4), 0, 0, 5000),
      // a module whose own memory is shared (flags 3: shared, with a maximum)
      () => new WebAssembly.Module(new Uint8Array([
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05, 0x04, 0x01, 0x03, 0x01, 0x01])),
    ];
    return tries.map((f) => {
      try { f(); return "made"; } catch (e: any) { return `${e.constructor.name}: ${e.message}`; }
    });
  },
});
