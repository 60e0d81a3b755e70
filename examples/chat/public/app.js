// The chat page: one live query (messages:list for the current channel) over the Vireo client the
// server itself serves, and messages:send for the composer. Switching channels unsubscribes the old
// query before subscribing the new one, so only the current channel's messages are ever shown.
// User text is only ever set with textContent.
import { VireoClient } from "/_vireo/client/index.js";

const NAME_KEY = "vireo-chat:name";
const $ = (id) => document.getElementById(id);
const ui = {
    status: $("status"),
    name: $("name"),
    title: $("channel-title"),
    list: $("messages"),
    empty: $("empty"),
    error: $("error"),
    form: $("composer"),
    body: $("body"),
    channels: [...document.querySelectorAll(".channel")],
};

const client = new VireoClient(location.origin);
let channel = null;
let unsubscribe = null;

function showError(message) {
    ui.error.textContent = message || "";
    ui.error.hidden = !message;
}

function setStatus(state) {
    ui.status.dataset.state = state;
    ui.status.textContent = state === "connected" ? "connected"
        : state === "connecting" ? "connecting…" : "disconnected — retrying";
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

function messageItem(m) {
    const li = document.createElement("li");
    li.className = "message";
    li.dataset.id = m._id;
    const meta = document.createElement("div");
    meta.className = "meta";
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = m.author || "anonymous";
    const when = new Date(m._creationTime);
    const time = document.createElement("time");
    time.dateTime = when.toISOString();
    time.textContent = timeFormat.format(when);
    meta.append(author, time);
    const body = document.createElement("p");
    body.className = "body";
    body.textContent = m.body;
    li.append(meta, body);
    return li;
}

// New messages are appended (so the live region announces only them); any other change redraws.
function render(messages) {
    const atBottom = ui.list.scrollHeight - ui.list.scrollTop - ui.list.clientHeight < 40;
    const shown = [...ui.list.children].map((li) => li.dataset.id);
    if (shown.length <= messages.length && shown.every((id, i) => id === messages[i]._id))
        ui.list.append(...messages.slice(shown.length).map(messageItem));
    else
        ui.list.replaceChildren(...messages.map(messageItem));
    ui.empty.hidden = messages.length > 0;
    if (atBottom) ui.list.scrollTop = ui.list.scrollHeight;
}

function selectChannel(next) {
    if (next === channel) return;
    if (unsubscribe) unsubscribe();
    channel = next;
    for (const b of ui.channels) b.setAttribute("aria-pressed", String(b.dataset.channel === next));
    ui.title.textContent = next;
    ui.body.placeholder = `Message ${next}`;
    ui.list.replaceChildren();
    ui.empty.hidden = true;
    showError("");
    const mine = next;
    unsubscribe = client.subscribe("messages:list", { channel: next },
        (messages) => { if (channel === mine) render(messages); },
        (err) => { if (channel === mine) showError(`Could not load ${mine}: ${err.message}`); });
}

async function send(event) {
    event.preventDefault();
    const text = ui.body.value.trim();
    if (!text) return;
    const author = ui.name.value.trim() || "anonymous";
    ui.body.value = "";
    showError("");
    try {
        await client.mutation("messages:send", { channel, author, body: text });
    } catch (err) {
        if (!ui.body.value) ui.body.value = text;
        showError(`Not sent: ${err.message}`);
    }
}

ui.name.value = localStorage.getItem(NAME_KEY) || "";
ui.name.addEventListener("input", () => localStorage.setItem(NAME_KEY, ui.name.value.trim()));
for (const b of ui.channels) b.addEventListener("click", () => selectChannel(b.dataset.channel));
ui.form.addEventListener("submit", send);
client.onConnectionChange((state) => setStatus(state));
setStatus(client.connectionState);
selectChannel("#general");
