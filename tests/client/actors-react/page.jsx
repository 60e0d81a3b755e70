// The page of tests/client/actors-react.test.mjs: @vireo/react's actor hooks under StrictMode,
// over @vireo/client's createClient, bundled by esbuild (development React: StrictMode mounts,
// unmounts and mounts again). Its WebSocket records the frames it sends (window.__sent); each
// component counts its renders (window.__renders).
import { StrictMode, memo, useState } from "react";
import { createRoot } from "react-dom/client";
import { createClient } from "../../../clients/js/src/index.js";
import { createZocketReact, useActorState as useStateDirect } from "../../../clients/react/src/index.js";

const sent = [];
class SpyWS extends WebSocket {
    send(data) {
        sent.push(JSON.parse(data));
        super.send(data);
    }
}
window.__sent = sent;
window.__renders = { counter: 0, log: 0 };

const client = createClient({ url: `ws://${location.host}`, WebSocket: SpyWS, backoff: { baseMs: 50, maxMs: 200 } });
const { ZocketProvider, useActor, useActorState, useEvent, useConnectionStatus } = createZocketReact();

// memo: renders only when its own selection changes. The selector makes a new array each time;
// shallow equality keeps the previous one while the items are the same.
const LogView = memo(function LogView({ handle }) {
    const log = useStateDirect(handle, (s) => [...s.log]);
    window.__renders.log++;
    return <span id="log">{log === undefined ? "loading" : log.join(",")}</span>;
});

function Counter({ id }) {
    const h = useActor("counter", id);
    const count = useActorState(h, (s) => s.count);
    const [events, setEvents] = useState([]);
    useEvent(h, "changed", (p) => setEvents((e) => [...e, p.count]));
    window.__renders.counter++;
    return (
        <div>
            <span id="name">{h.meta.id}</span>
            <span id="count">{count === undefined ? "loading" : String(count)}</span>
            <span id="events">{events.join(",")}</span>
            <button id="add" onClick={() => h.add({ by: 1 })}>add</button>
            <LogView handle={h} />
        </div>
    );
}

function Status() {
    return <span id="status">{useConnectionStatus()}</span>;
}

function App() {
    const [shown, setShown] = useState(true);
    const [id, setId] = useState("react-1");
    return (
        <ZocketProvider client={client}>
            <Status />
            <button id="toggle" onClick={() => setShown((s) => !s)}>toggle</button>
            <button id="switch" onClick={() => setId("react-2")}>switch</button>
            {shown && <Counter id={id} />}
        </ZocketProvider>
    );
}

createRoot(document.getElementById("root")).render(<StrictMode><App /></StrictMode>);
