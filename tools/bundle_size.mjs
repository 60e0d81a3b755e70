// Bundle size of the JavaScript clients, measured one way for all: an entry importing the named
// exports, bundled by esbuild for the browser (ESM, minified, production), then gzip -9. React is
// left out of the React bundles (a peer dependency). Prints one line per bundle.
//   node tools/bundle_size.mjs
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const alias = {
    "@vireo/client": path.join(repo, "clients/js/src/index.js"),
    "@vireo/react": path.join(repo, "clients/react/src/index.js"),
};
const entries = [
    ["@vireo/client: VireoClient", `export { VireoClient } from "@vireo/client";`],
    ["@vireo/client: everything (with the actor client)", `export * from "@vireo/client";`],
    ["convex/browser: ConvexClient", `export { ConvexClient } from "convex/browser";`],
    ["convex/browser: everything", `export * from "convex/browser";`],
    ["@vireo/react: query hooks + VireoClient", `export { VireoClient } from "@vireo/client"; export { VireoProvider, useQuery, useMutation, useAction, usePaginatedQuery, usePreloadedQuery, useConnectionState } from "@vireo/react";`],
    ["convex/react: the same hooks + ConvexReactClient", `export { ConvexReactClient, ConvexProvider, useQuery, useMutation, useAction, usePaginatedQuery, usePreloadedQuery, useConvexConnectionState } from "convex/react";`],
];

for (const [name, contents] of entries) {
    const r = await esbuild.build({
        stdin: { contents, resolveDir: repo, loader: "js" }, bundle: true, format: "esm", platform: "browser",
        target: "es2022", minify: true, write: false, alias, external: ["react", "react-dom"],
        define: { "process.env.NODE_ENV": '"production"' }, logLevel: "silent",
    });
    const code = r.outputFiles[0].contents;
    const gz = zlib.gzipSync(code, { level: 9 }).length;
    console.log(`${name.padEnd(52)} ${(code.length / 1024).toFixed(1).padStart(7)} KiB min  ${(gz / 1024).toFixed(1).padStart(6)} KiB min+gzip`);
}
