// Bundles the React page (src/main.tsx) with esbuild into public/app.js, which `vireo dev` serves
// with the rest of public/. The `convex` and `react` packages come from the nearest node_modules
// (the repository's, installed by `make deps`).
//   node build.mjs                 build once
//   node build.mjs --watch         rebuild on every change
//   node build.mjs --outdir DIR    write app.js into DIR instead of public/ (the e2e test's copy)
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as esbuild from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: { watch: { type: "boolean", default: false }, outdir: { type: "string" } },
});
const outdir = path.resolve(opts.outdir ?? path.join(here, "public"));

const config = {
  entryPoints: [path.join(here, "src/main.tsx")],
  outfile: path.join(outdir, "app.js"),
  bundle: true,
  format: "esm",
  jsx: "automatic",
  target: "es2022",
  minify: !opts.watch,
  sourcemap: true,
  define: { "process.env.NODE_ENV": JSON.stringify(opts.watch ? "development" : "production") },
  logLevel: "info",
};

if (opts.watch) {
  const ctx = await esbuild.context(config);
  await ctx.watch();
} else {
  await esbuild.build(config);
}
