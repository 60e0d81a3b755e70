// The chat page, over the Vireo client the server itself serves: the current channel's history is
// a live paginated list (messages:page through client.paginatedQuery, newest page first; "Load
// older" or scrolling to the top loads the page before), the search box a live query
// (messages:search), and the composer sends text and images (the image is POSTed to a URL from
// messages:generateUploadUrl first; the message keeps its storageId and the queries give its URL).
// Switching channels releases the old channel's queries. User text is only ever set with textContent.
import { VireoClient } from "/_vireo/client/index.js";

const PAGE = 25; // messages per page of history
const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
const NAME_KEY = "vireo-chat:name";
const $ = (id) => document.getElementById(id);
const ui = {
    status: $("status"),
    name: $("name"),
    title: $("channel-title"),
    history: $("history"),
    list: $("messages"),
    older: $("older"),
    empty: $("empty"),
    error: $("error"),
    form: $("composer"),
    body: $("body"),
    image: $("image"),
    attached: $("attached"),
    send: $("send"),
    searchForm: $("search-form"),
    search: $("search"),
    searchPane: $("search-pane"),
    searchTitle: $("search-title"),
    searchResults: $("search-results"),
    channels: [...document.querySelectorAll(".channel")],
};

const client = new VireoClient(location.origin);
let channel = null;
let history = null; // the channel's PaginatedQuery
let stopHistory = null;
let stopSearch = null;
let searchTimer = 0;
const items = new Map(); // _id -> <li> shown in the history

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

const nearBottom = () =>
    ui.history.scrollHeight - ui.history.scrollTop - ui.history.clientHeight < 40;

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
    if (m.url) {
        const img = document.createElement("img");
        img.className = "image";
        img.alt = `image from ${m.author || "anonymous"}`;
        // an image that loads later grows the list: keep the newest message in view
        img.addEventListener("load", () => {
            if (li.dataset.stick === "1") ui.history.scrollTop = ui.history.scrollHeight;
        });
        img.src = m.url;
        li.append(img);
    }
    return li;
}

// The history, oldest first. Messages already shown keep their <li> (new ones are inserted, so
// the live region announces only them); older pages loaded above keep the view where it was.
function renderHistory(state) {
    const messages = state.results.slice().reverse();
    const stick = nearBottom();
    const anchor = ui.list.firstElementChild;
    const anchorTop = anchor ? anchor.offsetTop - ui.history.scrollTop : 0;
    const keep = new Set(messages.map((m) => m._id));
    for (const [id, li] of items) {
        if (!keep.has(id)) {
            li.remove();
            items.delete(id);
        }
    }
    let at = ui.list.firstElementChild;
    for (const m of messages) {
        let li = items.get(m._id);
        if (!li) items.set(m._id, (li = messageItem(m)));
        if (li === at) at = at.nextElementSibling;
        else ui.list.insertBefore(li, at);
    }
    ui.empty.hidden = messages.length > 0 || state.isLoading;
    ui.older.hidden = state.status !== "CanLoadMore" && state.status !== "LoadingMore";
    ui.older.disabled = state.status !== "CanLoadMore";
    ui.older.textContent = state.status === "LoadingMore" ? "Loading…" : "Load older messages";
    for (const li of items.values()) li.dataset.stick = stick ? "1" : "";
    if (stick) ui.history.scrollTop = ui.history.scrollHeight;
    else if (anchor?.isConnected) ui.history.scrollTop = anchor.offsetTop - anchorTop;
}

function loadOlder() {
    history?.loadMore(PAGE);
}

function renderSearch(text, found) {
    ui.searchResults.replaceChildren(...found.map(messageItem));
    ui.searchTitle.textContent = found.length === 0 ? `No messages match “${text}”`
        : `${found.length}${found.length === 20 ? "+" : ""} message${found.length === 1 ? "" : "s"} ` +
          `match “${text}”`;
}

// The search box shows live results for the current channel in place of the history.
function runSearch() {
    clearTimeout(searchTimer);
    if (stopSearch) stopSearch();
    stopSearch = null;
    const text = ui.search.value.trim();
    ui.searchPane.hidden = !text;
    ui.history.hidden = !!text;
    if (!text) return;
    ui.searchTitle.textContent = "Searching…";
    ui.searchResults.replaceChildren();
    const mine = channel;
    stopSearch = client.subscribe("messages:search", { channel, text },
        (found) => { if (channel === mine) renderSearch(text, found); },
        (err) => { if (channel === mine) showError(`Search failed: ${err.message}`); });
}

function selectChannel(next) {
    if (next === channel) return;
    if (stopHistory) stopHistory();
    channel = next;
    for (const b of ui.channels) b.setAttribute("aria-pressed", String(b.dataset.channel === next));
    ui.title.textContent = next;
    ui.body.placeholder = `Message ${next}`;
    ui.search.placeholder = `Search ${next}`;
    ui.list.replaceChildren();
    items.clear();
    ui.empty.hidden = true;
    ui.older.hidden = true;
    showError("");
    runSearch();
    const mine = next;
    history = client.paginatedQuery("messages:page", { channel: next }, { initialNumItems: PAGE });
    stopHistory = history.subscribe(
        (state) => { if (channel === mine) renderHistory(state); },
        (err) => { if (channel === mine) showError(`Could not load ${mine}: ${err.message}`); });
}

async function upload(file) {
    const url = await client.mutation("messages:generateUploadUrl", {});
    const r = await fetch(url, { method: "POST", headers: { "Content-Type": file.type }, body: file });
    const answer = await r.json().catch(() => null);
    if (!r.ok || typeof answer?.storageId !== "string")
        throw new Error(`upload failed: ${answer?.errorMessage ?? `HTTP ${r.status}`}`);
    return answer.storageId;
}

function showAttached() {
    const file = ui.image.files[0];
    ui.attached.textContent = file ? file.name : "";
    ui.attached.hidden = !file;
}

async function send(event) {
    event.preventDefault();
    const text = ui.body.value.trim();
    const file = ui.image.files[0];
    if (!text && !file) return;
    if (file && !file.type.startsWith("image/")) return showError("Only images can be attached.");
    if (file && file.size > MAX_IMAGE_BYTES)
        return showError(`The image is too large (at most ${MAX_IMAGE_BYTES >> 20} MiB).`);
    const author = ui.name.value.trim() || "anonymous";
    const to = channel;
    ui.body.value = "";
    ui.image.value = "";
    showAttached();
    showError("");
    ui.send.disabled = true;
    try {
        const args = { channel: to, author, body: text };
        if (file) args.image = await upload(file);
        await client.mutation("messages:send", args);
    } catch (err) {
        if (!ui.body.value) ui.body.value = text;
        showError(`Not sent: ${err.message}`);
    } finally {
        ui.send.disabled = false;
    }
}

ui.name.value = localStorage.getItem(NAME_KEY) || "";
ui.name.addEventListener("input", () => localStorage.setItem(NAME_KEY, ui.name.value.trim()));
for (const b of ui.channels) b.addEventListener("click", () => selectChannel(b.dataset.channel));
ui.form.addEventListener("submit", send);
ui.image.addEventListener("change", showAttached);
ui.older.addEventListener("click", loadOlder);
ui.history.addEventListener("scroll", () => {
    if (ui.history.scrollTop < 20) loadOlder();
});
ui.search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 150);
});
ui.search.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
        ui.search.value = "";
        runSearch();
    }
});
ui.searchForm.addEventListener("submit", (e) => {
    e.preventDefault();
    runSearch();
});
client.onConnectionChange((state) => setStatus(state));
setStatus(client.connectionState().state);
selectChannel("#general");
