// Browser entry of examples/tasks. The page at "/" renders at once and, with `persistence: true`,
// shows the tasks from IndexedDB before the socket connects and keeps writes made offline across
// reloads. The server-rendered page ("/ssr", ssr.mjs) carries a Preloaded token: it is hydrated,
// then goes live. The Vireo server is the page's origin, or window.__VIREO_URL__ (set by ssr.mjs),
// or ?vireo=http://host:port.
import { StrictMode } from "react";
import { createRoot, hydrateRoot } from "react-dom/client";
import { VireoClient } from "@vireo/client";
import { VireoProvider } from "@vireo/react";
import { SsrPage, TaskApp } from "./App.jsx";

const url = window.__VIREO_URL__ ?? new URLSearchParams(location.search).get("vireo") ?? location.origin;
const root = document.getElementById("root");
const preloaded = document.getElementById("preloaded");

if (preloaded) {
    // no persistence here: the server's HTML is newer than any cache
    const client = new VireoClient(url);
    window.vireo = client;
    hydrateRoot(root,
        <StrictMode><VireoProvider client={client}><SsrPage preloaded={JSON.parse(preloaded.textContent)} /></VireoProvider></StrictMode>,
        { onRecoverableError: (e) => console.error("hydration:", e.message) });
    window.__hydrated = true;
} else {
    const client = new VireoClient(url, { persistence: true, schemaVersion: "tasks-1" });
    window.vireo = client;
    client.init(); // loads the cache and the offline queue, then connects
    createRoot(root).render(<StrictMode><VireoProvider client={client}><TaskApp /></VireoProvider></StrictMode>);
}
