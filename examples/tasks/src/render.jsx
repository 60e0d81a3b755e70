// Node side of the SSR page (bundled by build.mjs into dist/render.mjs, used by ssr.mjs):
// preloadQuery runs tasks:list over HTTP, renderToString renders the page with it.
import WebSocket from "ws";
import { renderToString } from "react-dom/server";
import { VireoClient } from "@vireo/client";
import { VireoProvider, preloadQuery } from "@vireo/react";
import { LIST, SsrPage } from "./App.jsx";

/** {html, preloaded}: the page's HTML and the token the browser hydrates it with. */
export async function renderSsr(vireoUrl, { headers } = {}) {
    const preloaded = await preloadQuery(vireoUrl, LIST, {}, { headers });
    // rendering never subscribes: the provider's client is closed right after
    const client = new VireoClient(vireoUrl, { WebSocket });
    try {
        const html = renderToString(<VireoProvider client={client}><SsrPage preloaded={preloaded} /></VireoProvider>);
        return { html, preloaded };
    } finally {
        client.close();
    }
}
