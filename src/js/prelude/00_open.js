/* prelude: the JavaScript that ships inside the vireo binary and runs before an app's bundle.
 * Files are concatenated in name order into one script; this one opens a private scope that
 * 99_close.js closes, so nothing but globalThis.__vireo (and the runtime's hidden entry points)
 * leaks into the app's global scope. `native` is the C bridge (src/js/native.c). */
(function (native) {
"use strict";
