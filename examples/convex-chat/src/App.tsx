// The chat of Convex's tutorial: the last 100 messages, live (useQuery), and a composer whose
// message shows at once through an optimistic update, before the server has answered; the
// server's copy replaces it when the mutation's result reaches the list.
import { FormEvent, useEffect, useRef, useState } from "react";
import { useConvexConnectionState, useMutation, useQuery } from "convex/react";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";

// Ids of messages that exist only in this page's optimistic update, not yet on the server.
const pendingIds = new Set<string>();

function initialName(): string {
  const fromUrl = new URLSearchParams(location.search).get("name");
  return fromUrl ?? sessionStorage.getItem("name") ?? `User ${Math.floor(Math.random() * 10000)}`;
}

export default function App() {
  const messages = useQuery(api.messages.list);
  const connection = useConvexConnectionState();
  const sendMessage = useMutation(api.messages.send).withOptimisticUpdate((localStore, args) => {
    const existing = localStore.getQuery(api.messages.list, {});
    // Only when the list is loaded: there is nothing to add to otherwise.
    if (existing !== undefined) {
      const id = crypto.randomUUID() as Id<"messages">;
      pendingIds.add(id);
      const message = { _id: id, _creationTime: Date.now(), ...args };
      localStore.setQuery(api.messages.list, {}, [...existing, message]);
    }
  });

  const [name, setName] = useState(initialName);
  const [newMessageText, setNewMessageText] = useState("");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => sessionStorage.setItem("name", name), [name]);

  const bottom = useRef<HTMLLIElement>(null);
  useEffect(() => {
    bottom.current?.scrollIntoView({ block: "end" });
    // Forget optimistic ids once no list shows them (each replay of the update makes a new one).
    const shown = new Set<string>(messages?.map((m) => m._id));
    for (const id of pendingIds) if (!shown.has(id)) pendingIds.delete(id);
  }, [messages]);

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
      <ol id="messages" className="messages" aria-live="polite">
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
