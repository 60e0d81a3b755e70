// Bundles one web API polyfill entry (src/js/polyfill/<name>.js) with esbuild into a script for
// the prelude: `node tools/bundle_polyfill.mjs ENTRY OUT GLOBAL`. The script declares `var
// GLOBAL` (the entry's exports) in the prelude's private scope. Internal modules of the npm
// package may be replaced by our own (REPLACE); the Makefile runs this at build time.
import * as esbuild from "esbuild";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const REPLACE = [
    // core-js-pure's last "domain to ASCII" step, with more of UTS 46 (the file says what)
    [/\/internals\/string-punycode-to-ascii(\.js)?$/, path.join(root, "src/js/polyfill/domain_to_ascii.js")],
];

const [entry, out, globalName] = process.argv.slice(2);
if (!entry || !out || !globalName) {
    console.error("usage: node tools/bundle_polyfill.mjs ENTRY OUT GLOBAL");
    process.exit(2);
}
await esbuild.build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    minify: true,
    format: "iife",
    globalName,
    target: "es2022",
    legalComments: "none",
    logLevel: "warning",
    plugins: [{
        name: "replace-internals",
        setup(build) {
            for (const [re, file] of REPLACE)
                build.onResolve({ filter: re }, () => ({ path: file }));
        },
    }],
});
