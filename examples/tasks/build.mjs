// Bundles examples/tasks with esbuild: src/main.jsx (the page, React from npm) into public/app.js,
// which `vireo dev examples/tasks` and ssr.mjs serve, and src/render.jsx (the SSR render, for
// Node, everything bundled) into dist/render.mjs, which ssr.mjs imports. @vireo/client and
// @vireo/react are this repository's clients/js and clients/react.
//   node build.mjs                                   build once
//   node build.mjs --watch                           rebuild the page on every change
//   node build.mjs --outdir DIR --distdir DIR2       write app.js into DIR, render.mjs into DIR2
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as esbuild from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const { values: opts } = parseArgs({
    options: { watch: { type: "boolean", default: false }, outdir: { type: "string" }, distdir: { type: "string" } },
});
const outdir = path.resolve(opts.outdir ?? path.join(here, "public"));
const distdir = path.resolve(opts.distdir ?? path.join(here, "dist"));
const mode = opts.watch ? "development" : "production";

const common = {
    bundle: true,
    format: "esm",
    jsx: "automatic",
    target: "es2022",
    alias: {
        "@vireo/client": path.join(repo, "clients/js/src/index.js"),
        "@vireo/react": path.join(repo, "clients/react/src/index.js"),
    },
    define: { "process.env.NODE_ENV": JSON.stringify(mode) },
    logLevel: "info",
};
const page = { ...common, entryPoints: [path.join(here, "src/main.jsx")], outfile: path.join(outdir, "app.js"),
               minify: !opts.watch, sourcemap: true };
const render = {
    ...common, entryPoints: [path.join(here, "src/render.jsx")], outfile: path.join(distdir, "render.mjs"),
    platform: "node",
    // React's CommonJS builds call require(); ws's optional native helpers are left out
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    external: ["bufferutil", "utf-8-validate"],
};

if (opts.watch) {
    await (await esbuild.context(page)).watch();
    await (await esbuild.context(render)).watch();
} else {
    await Promise.all([esbuild.build(page), esbuild.build(render)]);
}
