// The SSR page of tests/client/react-hooks.test.mjs, rendered by react-dom/server in Node with
// preloadQuery's token (ssr-server.jsx) and hydrated in Chromium (ssr-client.jsx). Every value the
// list rendered is in globalThis.__ssrSeen.
import { usePreloadedQuery } from "../../../clients/react/src/index.js";

export function SsrTasks({ preloaded }) {
    const tasks = usePreloadedQuery(preloaded);
    const shown = tasks === undefined ? "loading" : tasks.join(",");
    (globalThis.__ssrSeen ??= []).push(shown);
    return <ul id="ssr-list" data-n={tasks?.length}>{shown}</ul>;
}
