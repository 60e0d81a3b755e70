// The draw-and-guess page, over the actor client the server itself serves (/_vireo/client/): one
// `draw` actor instance per room (the URL's #hash, else "room-1"). The page renders everything from
// the room's state, which the client keeps current from the server's patches: the canvas is
// redrawn from `strokes`, the players, scores and guesses from theirs. The drawer's pointer
// strokes are sent with `draw` when the pointer lifts (shown at once, and from the state once the
// call's patch is in); `correctGuess` events show a notice. User text is only ever set with
// textContent. window.drawGame exposes the state and the events received (for the tests).
import { createClient } from "/_vireo/client/index.js";

const NAME_KEY = "vireo-draw:name";
const MAX_POINTS = 1000; // per stroke, as the actor's schema allows
const $ = (id) => document.getElementById(id);
const ui = {
    room: $("room"), status: $("status"), phase: $("phase"), word: $("word"), start: $("start"),
    board: $("board"), guessForm: $("guess-form"), guess: $("guess"), guessSend: $("guess-send"),
    toast: $("toast"), error: $("error"), joinForm: $("join-form"), name: $("name"),
    join: $("join"), players: $("players"), guesses: $("guesses"),
};
const ctx = ui.board.getContext("2d");

const roomId = decodeURIComponent(location.hash.slice(1)) || "room-1";
const client = createClient({ url: location.origin });
const room = client.draw(roomId);

let state = null; // the room's state, as the server last sent it
let me = null; // { playerId, color, name } once joined
let stroke = null; // the stroke being drawn
const pending = new Set(); // strokes sent, not yet answered
const events = [];
window.drawGame = { get state() { return state; }, get me() { return me; }, events, roomId };

ui.room.textContent = `· ${roomId}`;
ui.name.value = localStorage.getItem(NAME_KEY) || "";

function showError(e) {
    ui.error.textContent = e?.message || String(e);
    ui.error.hidden = false;
}
const clearError = () => { ui.error.hidden = true; ui.error.textContent = ""; };

/* Calls a method of the room; a failure is shown, not thrown. */
async function call(method, input) {
    clearError();
    try {
        return await room[method](input);
    } catch (e) {
        showError(e);
        return undefined;
    }
}

// ---- connection and the room's state ----

let wasConnected = false;
client.connection.subscribe((s) => {
    ui.status.dataset.state = s;
    ui.status.textContent = s;
    // the server removed our player when the old socket closed (onDisconnect): join again
    if (s === "connected" && wasConnected && me) join(me.name);
    if (s === "connected") wasConnected = true;
});
ui.status.dataset.state = client.connection.status;
ui.status.textContent = client.connection.status;

room.state.subscribe((s) => {
    state = s;
    render();
});

room.on("correctGuess", ({ name, word }) => {
    events.push({ name, word });
    ui.toast.textContent = `${name} guessed "${word}"!`;
    ui.toast.hidden = false;
});

// ---- actions ----

async function join(name) {
    const r = await call("join", { name });
    if (!r) return;
    me = { ...r, name };
    localStorage.setItem(NAME_KEY, name);
    render();
}

ui.joinForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = ui.name.value.trim();
    if (name) join(name);
});

ui.start.addEventListener("click", () => {
    ui.toast.hidden = true;
    call("startRound");
});

ui.guessForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = ui.guess.value.trim();
    if (!text || !me) return;
    ui.guess.value = "";
    await call("guess", { playerId: me.playerId, text });
});

// ---- drawing ----

const amDrawer = () => !!(state && me && state.phase === "drawing" && state.drawerId === me.playerId && joined());
const joined = () => !!(state && me && state.players.some((p) => p.id === me.playerId));

function point(e) {
    const r = ui.board.getBoundingClientRect(), b = ui.board; // the drawing area is inside the border
    return [Math.round(((e.clientX - r.left - b.clientLeft) * b.width) / b.clientWidth),
            Math.round(((e.clientY - r.top - b.clientTop) * b.height) / b.clientHeight)];
}

ui.board.addEventListener("pointerdown", (e) => {
    if (!amDrawer()) return;
    ui.board.setPointerCapture(e.pointerId);
    stroke = { points: [point(e)], color: me.color, width: 4 };
    render();
});

ui.board.addEventListener("pointermove", (e) => {
    if (!stroke) return;
    const p = point(e), [lx, ly] = stroke.points[stroke.points.length - 1];
    if (Math.hypot(p[0] - lx, p[1] - ly) < 2 || stroke.points.length >= MAX_POINTS) return;
    stroke.points.push(p);
    render();
});

async function endStroke() {
    if (!stroke) return;
    const s = stroke;
    stroke = null;
    pending.add(s);
    await call("draw", { stroke: s }); // its patch arrives before its answer
    pending.delete(s);
    render();
}
ui.board.addEventListener("pointerup", endStroke);
ui.board.addEventListener("pointercancel", endStroke);

function paint(s) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = s.width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    const [x0, y0] = s.points[0];
    ctx.moveTo(x0, y0);
    if (s.points.length === 1) ctx.lineTo(x0 + 0.01, y0); // a dot
    for (const [x, y] of s.points.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
}

// ---- rendering ----

function li(text, cls) {
    const el = document.createElement("li");
    if (cls) el.className = cls;
    el.textContent = text;
    return el;
}

function render() {
    ctx.clearRect(0, 0, ui.board.width, ui.board.height);
    if (!state) return;
    for (const s of state.strokes) paint(s);
    for (const s of pending) paint(s);
    if (stroke) paint(stroke);

    const drawer = state.players.find((p) => p.id === state.drawerId);
    const isIn = joined();
    ui.phase.textContent =
        state.phase === "drawing" ? `Round ${state.round}: ${drawer ? drawer.name : "?"} draws` :
        state.phase === "roundEnd" ? `Round ${state.round} is over` :
        `Lobby (${state.players.length} player${state.players.length === 1 ? "" : "s"}, 2 needed)`;
    ui.word.textContent =
        state.phase === "drawing" ? (amDrawer() ? `Draw: ${state.word}` : state.hint) :
        state.phase === "roundEnd" ? `The word was "${state.word}"` : "";
    ui.start.disabled = !isIn || state.phase === "drawing" || state.players.length < 2;
    const canGuess = isIn && state.phase === "drawing" && state.drawerId !== me.playerId;
    ui.guess.disabled = ui.guessSend.disabled = !canGuess;
    ui.joinForm.hidden = isIn;
    ui.board.style.cursor = amDrawer() ? "crosshair" : "default";

    ui.players.replaceChildren(...state.players.map((p) => {
        const el = li("", p.id === me?.playerId ? "me" : "");
        el.dataset.name = p.name;
        const sw = document.createElement("span");
        sw.className = "swatch";
        sw.style.background = p.color;
        const name = document.createElement("span");
        name.className = "name";
        name.textContent = p.name + (p.id === state.drawerId && state.phase === "drawing" ? " ✏️" : "");
        const score = document.createElement("span");
        score.className = "score";
        score.textContent = String(p.score);
        el.append(sw, name, score);
        return el;
    }));
    ui.guesses.replaceChildren(...state.guesses.map((g) => li(`${g.name}: ${g.text}`, g.correct ? "correct" : "")));
}
