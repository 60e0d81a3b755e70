// Browser side of the SSR test: hydrates the server's HTML with the Preloaded token the server
// put in window.__PRELOADED, under StrictMode.
import { StrictMode } from "react";
import { hydrateRoot } from "react-dom/client";
import { VireoClient } from "../../../clients/js/src/index.js";
import { VireoProvider } from "../../../clients/react/src/index.js";
import { SsrTasks } from "./ssr-app.jsx";

const client = new VireoClient(`ws://${location.host}`, { backoff: { baseMs: 50, maxMs: 200 } });
hydrateRoot(
    document.getElementById("root"),
    <StrictMode><VireoProvider client={client}><SsrTasks preloaded={window.__PRELOADED} /></VireoProvider></StrictMode>,
    { onRecoverableError: (e) => console.error("recoverable:", e.message) },
);
