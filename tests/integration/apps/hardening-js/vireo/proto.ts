// Built-ins are frozen: a call cannot change what later calls see.
import { query, mutation, v } from "./_generated/server";

export const pollute = mutation({
  args: {},
  handler: () => {
    const out: string[] = [];
    const attempts: Array<[string, () => void]> = [
      ["Object.prototype.x", () => { (Object.prototype as any).x = 1; }],
      ["Array.prototype.push", () => { (Array.prototype as any).push = () => 0; }],
      ["JSON.parse", () => { (JSON as any).parse = () => 0; }],
      ["Math.max", () => { (Math as any).max = () => 0; }],
      ["globalThis.Array", () => { (globalThis as any).Array = null; }],
      ["Object.prototype.toString", () => { Object.prototype.toString = () => "x"; }],
      ["String.prototype.trim", () => { (String.prototype as any).trim = () => "x"; }],
    ];
    for (const [name, f] of attempts) {
      try {
        f();
        out.push(`${name}: no error`);
      } catch (e: any) {
        out.push(`${name}: ${e.constructor.name}`);
      }
    }
    return out;
  },
});

export const sees = query({
  args: {},
  handler: () => ({
    x: ({} as any).x === undefined,
    push: [1].push(2) === 2,
    json: JSON.parse("1") === 1,
    max: Math.max(1, 2) === 2,
    array: typeof Array === "function",
    toString: Object.prototype.toString.call([]) === "[object Array]" && String({}) === "[object Object]",
    trim: " a ".trim() === "a",
  }),
});

class MyError extends Error {
  constructor(m: string) {
    super(m);
    this.name = "MyError";
  }
}

// Shadowing built-in names on one's own objects keeps working.
export const shadow = query({
  args: {},
  handler: () => {
    const o: any = { a: 1 };
    o.toString = () => "custom";
    o.constructor = "c";
    const e = new MyError("m");
    const f: any = function () {};
    f.toString = () => "fn";
    return [String(o), o.constructor, e.name, String(e), f.toString(), new Date(0).getTime(),
            Object.keys(o).length, [3, 1, 2].sort().join(",")];
  },
});

// A deterministic environment for one call, as @convex-dev/workflow sets it up: Math, Date,
// console, process and crypto replaced by assignment (and a Date "subclass" whose prototype is
// Date.prototype), then put back; what the call itself sees is the replacement.
export const patchGlobals = mutation({
  args: { restore: v.boolean() },
  handler: (_ctx, { restore }) => {
    const g: any = globalThis;
    const originals = { Math: g.Math, Date: g.Date, console: g.console, process: g.process, crypto: g.crypto };
    function FixedDate(this: any, ...a: any[]) {
      return a.length ? new originals.Date(...(a as [])) : new originals.Date(1234);
    }
    FixedDate.now = () => 1234;
    FixedDate.prototype = originals.Date.prototype;
    FixedDate.prototype.constructor = FixedDate; // a built-in's: nothing changes
    g.Math = { ...Object.fromEntries(Object.getOwnPropertyNames(Math).map((k) => [k, (Math as any)[k]])), random: () => 0.5 };
    g.Date = FixedDate;
    g.crypto = undefined;
    g.process = undefined;
    let redefine = "no error";
    try {
      Object.defineProperty(g, "Date", { value: 1, writable: false });
    } catch (e: any) {
      redefine = e.constructor.name;
    }
    const seen = [Date.now(), Math.random(), typeof (globalThis as any).crypto, typeof (globalThis as any).process,
                  new Date(0).constructor === originals.Date, redefine];
    if (restore) Object.assign(g, originals);
    return seen;
  },
});

export const globalsNow = query({
  args: {},
  handler: () => [Date.now() !== 1234, Math.random() !== 0.5, typeof crypto.getRandomValues, typeof process.env,
                  new Date(0).constructor === Date],
});

export const echoAny = query({ args: { value: v.any() }, handler: (_ctx, { value }) => value });
export const echoLoose = query((_ctx: any, args: any) => args);
