// The page of tests/client/react-hooks.test.mjs: @vireo/react's query, mutation, action,
// connection and pagination hooks under StrictMode over a VireoClient, bundled by esbuild
// (development React: StrictMode mounts, unmounts and mounts again). Its WebSocket records the
// frames it sends (window.__sent); client.mutation's options are recorded (window.__mutationOpts);
// every value the list rendered is in window.__seen; the hooks' functions are on window.
import { StrictMode, useState, Component } from "react";
import { createRoot } from "react-dom/client";
import { VireoClient } from "../../../clients/js/src/index.js";
import {
    VireoProvider, useQuery, useQueryWithStatus, useMutation, useAction, useConnectionState,
    usePaginatedQuery, useVireoClient, ConvexProvider, useConvex,
} from "../../../clients/react/src/index.js";

const sent = [];
class SpyWS extends WebSocket {
    send(data) {
        sent.push(JSON.parse(data));
        super.send(data);
    }
}
window.__sent = sent;
window.__seen = [];
window.__mutationOpts = [];

const client = new VireoClient(`ws://${location.host}`, { WebSocket: SpyWS, backoff: { baseMs: 50, maxMs: 200 } });
const mutation = client.mutation.bind(client);
client.mutation = (name, args, opts) => {
    window.__mutationOpts.push({ name, hasOptimistic: typeof opts?.optimisticUpdate === "function" });
    return mutation(name, args, opts);
};
window.__client = client;
// ?watch: the client gets Convex's watchQuery(name, args) shape ({onUpdate, localQueryResult}),
// here over its own query store, so the hooks take their watchQuery path.
if (location.search.includes("watch")) {
    window.__localReads = 0;
    client.watchQuery = (name, args) => {
        const key = VireoClient.makeKey(name, args);
        return {
            onUpdate: (cb) => client.queryStore.watch(key, cb),
            localQueryResult: () => {
                window.__localReads++;
                const e = client.queryStore.getError(key);
                if (e) throw e;
                return client.queryStore.getResult(key);
            },
        };
    };
}

const show = (v) => (v === undefined ? "loading" : v.join(","));

function Tasks() {
    const tasks = useQuery("tasks:list", { list: "a" });
    window.__seen.push(show(tasks));
    const add = useMutation("tasks:add");
    const addOptimistic = add.withOptimisticUpdate((store, args) => {
        const cur = store.getQuery("tasks:list", { list: args.list });
        if (cur !== undefined) store.setQuery("tasks:list", { list: args.list }, [...cur, `${args.text}?`]);
    });
    const addThenFail = useMutation({ _name: "tasks:addThenFail" }).withOptimisticUpdate((store, args) => {
        const cur = store.getQuery("tasks:list", { list: args.list });
        if (cur !== undefined) store.setQuery("tasks:list", { list: args.list }, [...cur, `${args.text}?`]);
    });
    window.__add = add;
    window.__addOptimistic = addOptimistic;
    window.__addThenFail = addThenFail;
    window.__withTwice = () => {
        try {
            addOptimistic.withOptimisticUpdate(() => {});
            return "no error";
        } catch (e) {
            return e.message;
        }
    };
    return <span id="list-a">{show(tasks)}</span>;
}

function Skippable() {
    const [skip, setSkip] = useState(true);
    const v = useQuery("tasks:list", skip ? "skip" : { list: "s" });
    return (
        <div>
            <span id="skip">{skip ? "skip" : "live"}:{show(v)}</span>
            <button id="unskip" onClick={() => setSkip((s) => !s)}>toggle</button>
        </div>
    );
}

function WithStatus() {
    const bad = useQueryWithStatus("tasks:boom", { why: "nope" });
    const good = useQueryWithStatus("tasks:list", { list: "a" });
    const skipped = useQueryWithStatus("tasks:list", "skip");
    return (
        <div>
            <span id="boom">{`${bad.status}|${bad.isError}|${bad.error?.message ?? ""}|${bad.data}`}</span>
            <span id="good">{`${good.status}|${good.isSuccess}|${good.isPending}|${good.data?.length}`}</span>
            <span id="skipped">{`${skipped.status}|${skipped.isPending}`}</span>
        </div>
    );
}

class Boundary extends Component {
    state = { error: null };
    static getDerivedStateFromError(error) {
        return { error };
    }
    render() {
        return this.state.error
            ? <span id={this.props.id ?? "thrown"}>{this.state.error.message}</span>
            : this.props.children;
    }
}

function Thrower() {
    useQuery("tasks:boom", { why: "thrown" });
    return <span id="thrown">no error</span>;
}

function Shout() {
    const shout = useAction("tasks:shout");
    window.__shout = shout;
    return null;
}

function Conn() {
    return <span id="conn">{useConnectionState()}</span>;
}

function Paged() {
    const { results, status, isLoading, loadMore } = usePaginatedQuery("tasks:page", { list: "p" }, { initialNumItems: 3 });
    window.__loadMore = loadMore;
    return (
        <div>
            <span id="p-results">{results.join(",")}</span>
            <span id="p-status">{`${status}|${isLoading}`}</span>
        </div>
    );
}

// Mounted later (#late): the client already holds tasks:list {list:"a"}, so its first render has it.
function Late() {
    const tasks = useQuery("tasks:list", { list: "a" });
    (window.__lateSeen ??= []).push(show(tasks));
    return <span id="late">{show(tasks)}</span>;
}

// New args (an inline object each render) switch the query; "off" unmounts it.
function Switcher() {
    const [list, setList] = useState("x1");
    const [on, setOn] = useState(true);
    return (
        <div>
            <button id="switch" onClick={() => setList((l) => (l === "x1" ? "x2" : "x1"))}>switch</button>
            <button id="off" onClick={() => setOn((o) => !o)}>off</button>
            {on ? <SwitchedList list={list} /> : <span id="switched">off</span>}
        </div>
    );
}

function SwitchedList({ list }) {
    const v = useQuery("tasks:list", { list });
    return <span id="switched">{`${list}:${show(v)}`}</span>;
}

function LateToggle() {
    const [late, setLate] = useState(false);
    return <div><button id="mount-late" onClick={() => setLate(true)}>late</button>{late && <Late />}</div>;
}

function PagedSkipped() {
    const { results, status, isLoading } = usePaginatedQuery("tasks:page", "skip", { initialNumItems: 2 });
    return <span id="p-skipped">{`${status}|${isLoading}|${results.length}`}</span>;
}

function PagedThrower() {
    usePaginatedQuery("tasks:boom", { why: "paged" }, { initialNumItems: 2 });
    return <span id="p-thrown">no error</span>;
}

function Aliases() {
    const ok = useConvex() === useVireoClient();
    return <span id="aliases">{String(ok)}</span>;
}

function App() {
    return (
        <div>
            <Conn />
            <Tasks />
            <Skippable />
            <WithStatus />
            <Boundary><Thrower /></Boundary>
            <Shout />
            <Paged />
            <PagedSkipped />
            <Boundary id="p-thrown"><PagedThrower /></Boundary>
            <Aliases />
            <LateToggle />
            <Switcher />
        </div>
    );
}

createRoot(document.getElementById("root")).render(
    <StrictMode>
        <ConvexProvider client={client}>
            <VireoProvider client={client}>
                <App />
            </VireoProvider>
        </ConvexProvider>
    </StrictMode>,
);
