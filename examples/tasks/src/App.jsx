// The task list of examples/tasks, with every @vireo/react hook: the list (useQuery), one task's
// details (useQuery with "skip" while none is picked), the counts (useQueryWithStatus), create
// with an optimistic row (useMutation(...).withOptimisticUpdate), toggle and remove (useMutation),
// a summary (useAction), an online/offline badge (useConnectionState), a paged view
// (usePaginatedQuery, "Load more"), writes still waiting for the server (usePendingMutations:
// after a reload they are no longer optimistic rows), and the SSR page (usePreloadedQuery).
import { useMemo, useState } from "react";
import {
    useAction, useConnectionState, useMutation, usePaginatedQuery, usePendingMutations,
    usePreloadedQuery, useQuery, useQueryWithStatus, useVireoClient,
} from "@vireo/react";

export const LIST = "tasks:list";

/** "online" once the server accepted the connection; "offline" before and after a drop. */
export function StatusBadge() {
    const state = useConnectionState();
    return (
        <span id="status" className={`badge ${state}`} data-state={state} role="status">
            {state === "connected" ? "online" : "offline"}
        </span>
    );
}

/** create with an optimistic update: the row shows at once, faded, until the server answers. */
function useCreateTask() {
    const create = useMutation("tasks:create");
    return useMemo(() => create.withOptimisticUpdate((store, { text }) => {
        const tasks = store.getQuery(LIST, {});
        if (tasks !== undefined)
            store.setQuery(LIST, {}, [...tasks, { _id: `optimistic:${tasks.length}:${text}`, text, done: false, optimistic: true }]);
    }), [create]);
}

function NewTask({ onError }) {
    const create = useCreateTask();
    const [text, setText] = useState("");
    const submit = (e) => {
        e.preventDefault();
        onError(null);
        create({ text }).catch((err) => onError(err.message));
        setText("");
    };
    return (
        <form id="new-task" onSubmit={submit} autoComplete="off">
            <input id="text" value={text} onChange={(e) => setText(e.target.value)}
                placeholder='New task ("fail…" is refused by the server)' maxLength={200} />
            <button id="add" type="submit">Add</button>
        </form>
    );
}

function TaskRow({ task, onPick }) {
    const toggle = useMutation("tasks:toggle");
    const remove = useMutation("tasks:remove");
    const live = !task.optimistic;
    return (
        <li data-id={task._id} className={task.optimistic ? "pending" : task.done ? "done" : ""}>
            <input type="checkbox" checked={task.done} disabled={!live} aria-label="done"
                onChange={() => toggle({ id: task._id })} />
            <span className="text" onClick={() => live && onPick(task._id)}>{task.text}</span>
            {live && <button className="remove" aria-label="remove" onClick={() => remove({ id: task._id })}>×</button>}
        </li>
    );
}

function Details({ id }) {
    const task = useQuery("tasks:get", id === null ? "skip" : { id }); // nothing subscribed while none is picked
    if (id === null) return <p id="details" className="muted">Click a task for its details.</p>;
    if (task === undefined) return <p id="details" className="muted">loading…</p>;
    if (task === null) return <p id="details" className="muted">removed</p>;
    return <p id="details">“{task.text}”, {task.done ? "done" : "to do"}, created {new Date(task._creationTime).toLocaleString()}</p>;
}

function Stats() {
    const s = useQueryWithStatus("tasks:stats", {});
    return <p id="stats" data-status={s.status}>{s.isPending ? "…" : s.isError ? s.error.message : `${s.data.done}/${s.data.total} done`}</p>;
}

function Summary() {
    const summarize = useAction("tasks:summarize");
    const [text, setText] = useState("");
    return (
        <p>
            <button id="summarize" type="button"
                onClick={() => summarize().then(setText, (e) => setText(`failed: ${e.message}`))}>Summarize</button>
            {" "}<span id="summary">{text}</span>
        </p>
    );
}

function Paged() {
    const { results, status, loadMore } = usePaginatedQuery("tasks:page", {}, { initialNumItems: 3 });
    return (
        <section>
            <h2>Paged <small id="page-status">{status}</small></h2>
            <ol id="paged">{results.map((t) => <li key={t._id}>{t.text}</li>)}</ol>
            <button id="load-more" type="button" disabled={status !== "CanLoadMore"} onClick={() => loadMore(3)}>Load more</button>
        </section>
    );
}

export function TaskApp() {
    const client = useVireoClient();
    const tasks = useQuery(LIST, {});
    // a result from the persisted cache shows before the server confirms it
    const source = tasks === undefined ? "loading" : client.hasServerResult(LIST, {}) ? "server" : "cache";
    // creates restored from the persisted queue after a reload: their optimistic rows died with
    // the page that made them, so they are shown from the queue until the server runs them
    const queued = usePendingMutations("tasks:create").filter((m) => m.restored);
    const [picked, setPicked] = useState(null);
    const [error, setError] = useState(null);
    return (
        <main>
            <header>
                <h1>Tasks</h1>
                <StatusBadge />
            </header>
            <NewTask onError={setError} />
            {error && <p id="error" role="alert">{error}</p>}
            <p id="source" className="muted" data-source={source}>
                {source === "loading" ? "loading…" : source === "cache" ? "from this browser's cache" : "live"}
            </p>
            <ul id="tasks">
                {(tasks ?? []).map((t) => <TaskRow key={t._id} task={t} onPick={setPicked} />)}
                {queued.map((m) => (
                    <li key={m.idempotencyKey} className="pending queued" data-id="queued">
                        <input type="checkbox" disabled aria-label="done" /><span className="text">{m.args.text}</span>
                    </li>
                ))}
            </ul>
            <Stats />
            <Details id={picked} />
            <Summary />
            <Paged />
            {/* ssr.mjs serves /ssr (and sets __VIREO_URL__); `vireo dev` alone does not */}
            {typeof window !== "undefined" && window.__VIREO_URL__ &&
                <p className="muted"><a href="/ssr">The server-rendered page</a></p>}
        </main>
    );
}

/** The SSR page: the list the Node server preloaded, rendered on the server, then live. */
export function SsrPage({ preloaded }) {
    const tasks = usePreloadedQuery(preloaded);
    const create = useMutation("tasks:create");
    const [text, setText] = useState("");
    return (
        <main>
            <header>
                <h1>Tasks (server-rendered)</h1>
                <StatusBadge />
            </header>
            <form id="new-task" autoComplete="off" onSubmit={(e) => {
                e.preventDefault();
                create({ text }).catch(() => {});
                setText("");
            }}>
                <input id="text" value={text} onChange={(e) => setText(e.target.value)} placeholder="New task" />
                <button id="add" type="submit">Add</button>
            </form>
            <ul id="tasks">
                {tasks.map((t) => <li key={t._id} data-id={t._id} className={t.done ? "done" : ""}><span className="text">{t.text}</span></li>)}
            </ul>
            <p className="muted"><a href="/">The client-rendered page</a></p>
        </main>
    );
}
