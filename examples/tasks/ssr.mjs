// The SSR server of examples/tasks: a tiny node:http server (no framework). GET /ssr runs
// tasks:list on the Vireo server with preloadQuery (the caller's Authorization header forwarded),
// renders the page with react-dom/server and embeds the Preloaded token; the browser bundle
// hydrates it with usePreloadedQuery and goes live. GET / is the client-rendered page (it reads
// the cache from IndexedDB, so it also works while the Vireo server is down), and the page's
// assets come from public/. Build first: `node build.mjs` (public/app.js, dist/render.mjs).
//   node ssr.mjs [--vireo http://127.0.0.1:8788] [--port 3000] [--host 127.0.0.1]
//                [--public DIR] [--dist DIR]
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
    options: {
        vireo: { type: "string", default: process.env.VIREO_URL ?? "http://127.0.0.1:8788" },
        port: { type: "string", default: process.env.PORT ?? "3000" },
        host: { type: "string", default: "127.0.0.1" },
        public: { type: "string", default: path.join(here, "public") },
        dist: { type: "string", default: path.join(here, "dist") },
    },
});
const vireoUrl = opts.vireo.replace(/\/+$/, "");
const { renderSsr } = await import(pathToFileURL(path.join(path.resolve(opts.dist), "render.mjs")).href);
const STATIC = { "/app.js": "text/javascript", "/app.js.map": "application/json", "/style.css": "text/css" };
// JSON inside <script>: "<" escaped so no "</script>" or "<!--" can end it
const scriptJson = (v) => JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
const urlScript = `<script>window.__VIREO_URL__ = ${scriptJson(vireoUrl)};</script>`;

function send(res, status, type, body) {
    res.writeHead(status, { "content-type": `${type}; charset=utf-8`, "cache-control": "no-store" });
    res.end(body);
}

function indexHtml() {
    return fs.readFileSync(path.join(opts.public, "index.html"), "utf8").replace("<!--vireo-url-->", urlScript);
}

async function ssrPage(req) {
    const headers = req.headers.authorization ? { Authorization: req.headers.authorization } : {};
    const { html, preloaded } = await renderSsr(vireoUrl, { headers });
    const root = `<div id="root">${html}</div>\n  <script id="preloaded" type="application/json">${scriptJson(preloaded)}</script>`;
    return indexHtml().replace("<title>Vireo tasks</title>", "<title>Vireo tasks (SSR)</title>")
        .replace('<div id="root"></div>', root);
}

const server = http.createServer(async (req, res) => {
    const { pathname } = new URL(req.url, "http://x");
    try {
        if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "method not allowed\n");
        if (pathname === "/") return send(res, 200, "text/html", indexHtml());
        if (pathname === "/ssr") return send(res, 200, "text/html", await ssrPage(req));
        if (STATIC[pathname]) return send(res, 200, STATIC[pathname], fs.readFileSync(path.join(opts.public, pathname.slice(1))));
        return send(res, 404, "text/plain", "not found\n");
    } catch (e) {
        // the Vireo server is down or the query failed: say so (the "/" page still works offline)
        const status = e.code === "ENOENT" ? 404 : 502;
        return send(res, status, "text/plain", `${status === 404 ? "not found" : `could not render: ${e.message}`}\n`);
    }
});
server.listen(Number(opts.port), opts.host, () => {
    const { port } = server.address();
    console.log(`tasks ssr: listening on http://${opts.host}:${port} (vireo: ${vireoUrl})`);
});
