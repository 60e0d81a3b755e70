import { action } from "./_generated/server";

// Reads of a proxy whose get trap throws, and of a revoked proxy, in a hot loop for 1.5 s: every
// one must throw. (The memory limit's heap checks run in the watchdog's callback, which
// JavaScriptCore may call with an exception pending: src/js/jsc_heap.h.)
export const proxyReads = action({
  args: {},
  handler: async () => {
    const handler = {
      get(t: { done: boolean }) {
        if (t.done) throw new TypeError("trap");
        return 1;
      },
    };
    let unthrown = 0, reads = 0;
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      for (let i = 0; i < 1000; i++) {
        const p: any = new Proxy({ done: true }, handler);
        try {
          p.x;
          unthrown++;
        } catch {}
        const r = Proxy.revocable({ x: 1 }, {});
        r.revoke();
        try {
          (r.proxy as any).x;
          unthrown++;
        } catch {}
        reads += 2;
      }
    }
    return { unthrown, reads };
  },
});
