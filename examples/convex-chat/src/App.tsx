// The chat of Convex's tutorial: the history, live and a page at a time (usePaginatedQuery over
// messages:page, newest first; "Load more" adds the next older page), shown oldest first, and a
// composer whose message shows at once through an optimistic update (insertAtTop), before the
// server has answered; the server's copy replaces it when the mutation's result reaches the list.
import { FormEvent, useEffect, useRef, useState } from "react";
import { insertAtTop, useConvexConnectionState, useMutation, usePaginatedQuery } from "convex/react";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";

// Messages in the first page, and in each page "Load more" adds.
const PAGE_SIZE = 10;

// Ids of messages that exist only in this page's optimistic update, not yet on the server.
const pendingIds = new Set<string>();

function initialName(): string {
  const fromUrl = new URLSearchParams(location.search).get("name");
  return fromUrl ?? sessionStorage.getItem("name") ?? `User ${Math.floor(Math.random() * 10000)}`;
}

export default function App() {
  const { results, status, loadMore } =
    usePaginatedQuery(api.messages.page, {}, { initialNumItems: PAGE_SIZE });
  // newest first from the server; a chat reads oldest first
  const messages = status === "LoadingFirstPage" ? undefined : [...results].reverse();
  const connection = useConvexConnectionState();
  const sendMessage = useMutation(api.messages.send).withOptimisticUpdate((localStore, args) => {
    const id = crypto.randomUUID() as Id<"messages">;
    pendingIds.add(id);
    // on top of the first page, when it is loaded (there is nothing to add to otherwise)
    insertAtTop({
      paginatedQuery: api.messages.page,
      argsToMatch: {},
      localQueryStore: localStore,
      item: { _id: id, _creationTime: Date.now(), ...args },
    });
  });
  const removeMessage = useMutation(api.messages.remove);

  const [name, setName] = useState(initialName);
  const [newMessageText, setNewMessageText] = useState("");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => sessionStorage.setItem("name", name), [name]);

  const bottom = useRef<HTMLLIElement>(null);
  const newest = results[0]?._id;
  useEffect(() => {
    // to the newest message when one arrives (not when older pages are loaded above)
    bottom.current?.scrollIntoView({ block: "end" });
  }, [newest]);
  useEffect(() => {
    // Forget optimistic ids once no list shows them (each replay of the update makes a new one).
    const shown = new Set<string>(results.map((m) => m._id));
    for (const id of pendingIds) if (!shown.has(id)) pendingIds.delete(id);
  }, [results]);

  async function handleRemove(id: Id<"messages">) {
    try {
      await removeMessage({ id });
      setError(null);
    } catch (e) {
      setError(`Could not delete: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async function handleSend(event: FormEvent) {
    event.preventDefault();
    const body = newMessageText.trim();
    if (!body) return;
    setNewMessageText("");
    try {
      await sendMessage({ body, author: name || "anonymous" });
      setError(null);
    } catch (e) {
      setError(`Could not send: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  const state = messages === undefined ? "loading" : connection.isWebSocketConnected ? "connected" : "offline";
  return (
    <main className="chat">
      <header>
        <h1>Convex chat on Vireo</h1>
        <p id="status" className="status" role="status" data-state={state}>
          {state === "loading" ? "loading…" : state === "connected" ? "live" : "reconnecting…"}
        </p>
        <label className="name">
          Your name
          <input id="name" value={name} maxLength={40} onChange={(e) => setName(e.target.value)} />
        </label>
      </header>
      <div id="history" className="history">
        {status === "Exhausted" ? (messages?.length ? <span>The beginning of the chat</span> : null)
          : (
            <button id="load-more" type="button" disabled={status !== "CanLoadMore"}
                    onClick={() => loadMore(PAGE_SIZE)}>
              {status === "CanLoadMore" ? "Load more" : "loading…"}
            </button>
          )}
      </div>
      <ol id="messages" className="messages" aria-live="polite" data-status={status}>
        {messages?.map((message) => {
          const pending = pendingIds.has(message._id);
          return (
            <li key={message._id} data-id={message._id} className={pending ? "pending" : undefined}
                aria-busy={pending}>
              <span className="author">{message.author}</span>
              <span className="body">{message.body}</span>
              <time dateTime={new Date(message._creationTime).toISOString()}>
                {new Date(message._creationTime).toLocaleTimeString()}
              </time>
              <button type="button" className="delete" aria-label="Delete" title="Delete"
                      disabled={pending} onClick={() => handleRemove(message._id)}>×</button>
            </li>
          );
        })}
        <li ref={bottom} className="end" aria-hidden />
      </ol>
      {messages?.length === 0 && <p id="empty" className="empty">No messages yet. Say hello!</p>}
      {error && <p id="error" className="error" role="alert">{error}</p>}
      <form id="composer" className="composer" onSubmit={handleSend} autoComplete="off">
        <input id="body" value={newMessageText} maxLength={2000} placeholder="Write a message…"
               aria-label="Message" onChange={(e) => setNewMessageText(e.target.value)} />
        <button id="send" type="submit" disabled={!newMessageText.trim()}>Send</button>
      </form>
    </main>
  );
}
