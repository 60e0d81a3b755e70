// Node side of the SSR test: preloadQuery over HTTP (headers forwarded), then renderToString of
// the page with a real VireoClient in the provider (closed after; rendering on the server never
// subscribes).
import WebSocket from "ws";
import { renderToString } from "react-dom/server";
import { VireoClient } from "../../../clients/js/src/index.js";
import {
    VireoProvider, preloadQuery, preloadedQueryResult, preloadedQueryArgs, queryUrl,
} from "../../../clients/react/src/index.js";
import { SsrTasks } from "./ssr-app.jsx";

export { preloadQuery, preloadedQueryResult, preloadedQueryArgs, queryUrl };

export async function render(url, list, headers) {
    const preloaded = await preloadQuery(url, "tasks:list", { list }, { headers });
    const client = new VireoClient(url, { WebSocket });
    try {
        const html = renderToString(<VireoProvider client={client}><SsrTasks preloaded={preloaded} /></VireoProvider>);
        return { html, preloaded: JSON.parse(JSON.stringify(preloaded)) };
    } finally {
        client.close();
    }
}
