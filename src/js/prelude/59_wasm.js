/* WebAssembly's promise API (compile, instantiate and their Streaming forms) over its synchronous
 * one. JavaScriptCore finishes an asynchronous compilation on a run loop that this embedding does
 * not run, so those promises would never settle (a function awaiting one would end as "awaited a
 * promise that never settled"; @convex-dev/geospatial loads its S2 library that way). Compiling
 * and instantiating now happen at the call, on the calling function's time; errors reject the
 * promise as they would asynchronously (CompileError, LinkError, TypeError). */
{
    const W = globalThis.WebAssembly;
    if (W !== null && typeof W === "object" && typeof W.Module === "function") {
        /* looked up at each call: 60_harden.js replaces W.Module and W.Memory with guarded ones */
        const settle = (f) => {
            try {
                return Promise.resolve(f());
            } catch (e) {
                return Promise.reject(e);
            }
        };
        const instantiateNow = (source, imports) => {
            if (source instanceof W.Module) return new W.Instance(source, imports);
            const module = new W.Module(source);
            return { module, instance: new W.Instance(module, imports) };
        };
        /* the bytes of compileStreaming's and instantiateStreaming's source: a Response */
        const responseBytes = async (source) => {
            const r = await source;
            if (!(r instanceof Response))
                throw new TypeError("WebAssembly streaming: the source must be a Response or a " +
                    `promise of one, got ${describeType(r)}`);
            return r.arrayBuffer();
        };
        const methods = {
            compile(bytes) { return settle(() => new W.Module(bytes)); },
            instantiate(source, imports) { return settle(() => instantiateNow(source, imports)); },
            async compileStreaming(source) { return new W.Module(await responseBytes(source)); },
            async instantiateStreaming(source, imports) {
                return instantiateNow(await responseBytes(source), imports);
            },
        };
        for (const name of Object.keys(methods))
            Object.defineProperty(W, name, { value: methods[name], writable: true,
                                             configurable: true, enumerable: false });
    }
}
