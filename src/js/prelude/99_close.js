/* Closes the scope opened by 00_open.js and hands the C bridge in; the runtime deletes
 * globalThis.__vr_native right after the prelude has run. */
})(globalThis.__vr_native);
