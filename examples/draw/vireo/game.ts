// The drawing room of Zocket's multiplayer draw-and-guess (seed 001, "Multiplayer Draw"), as a
// Vireo actor: players join a room by name, one of them draws a secret word on a shared canvas,
// the others guess; a correct guess scores 10 and emits `correctGuess`. The state (players,
// strokes, phase, guesses) reaches every page as JSON patches, and is stored with each call, so a
// room survives a restart. Beyond the seed: strokes and names are bounded, only the drawer draws,
// a guess is accepted only from the connection that joined as that player, and the drawer does
// not guess.
import { z } from "zod";
import { actor, createApp } from "@zocket/core";

const WORDS = ["apple", "house", "cat", "sun", "tree", "boat", "fish", "star", "car", "flower",
  "guitar", "rocket", "pizza", "cloud", "snake", "umbrella", "castle", "bicycle"];
const PLAYER_COLORS = ["#ef4444", "#3b82f6", "#22c55e", "#a855f7", "#f59e0b", "#14b8a6"];
const MAX_STROKES = 400; // a round's strokes (the state stays far below a document's 1 MiB)
const MAX_PLAYERS = 12;

const pickRandom = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)];
const generateHint = (word: string) => word.replace(/[a-z]/gi, "_").split("").join(" ");

const Stroke = z.object({
  points: z.array(z.tuple([z.number().min(-10).max(10000), z.number().min(-10).max(10000)])).min(1).max(1000),
  color: z.string().regex(/^#[0-9a-fA-F]{6}$/),
  width: z.number().min(1).max(40),
});

const DrawingRoom = actor({
  state: z.object({
    players: z.array(z.object({
      id: z.string(),
      name: z.string(),
      score: z.number(),
      color: z.string(),
      connectionId: z.string().default(""),
    })).default([]),
    phase: z.enum(["lobby", "drawing", "roundEnd"]).default("lobby"),
    drawerId: z.string().default(""),
    word: z.string().default(""),
    hint: z.string().default(""),
    strokes: z.array(Stroke).default([]),
    guesses: z.array(z.object({
      playerId: z.string(),
      name: z.string(),
      text: z.string(),
      correct: z.boolean(),
    })).default([]),
    round: z.number().default(0),
  }),

  methods: {
    join: {
      input: z.object({ name: z.string().trim().min(1).max(40) }),
      handler: ({ state, input, connectionId }) => {
        // the same name again (a reload, a reconnect) takes the player over
        const existing = state.players.find((p) => p.name === input.name);
        if (existing) {
          existing.connectionId = connectionId ?? "";
          return { playerId: existing.id, color: existing.color };
        }
        if (state.players.length >= MAX_PLAYERS) throw new Error(`The room is full (${MAX_PLAYERS} players)`);
        const playerId = Math.random().toString(36).slice(2, 10);
        const color = PLAYER_COLORS[state.players.length % PLAYER_COLORS.length];
        state.players.push({ id: playerId, name: input.name, score: 0, color, connectionId: connectionId ?? "" });
        return { playerId, color };
      },
    },

    startRound: {
      handler: ({ state }) => {
        if (state.players.length < 2) throw new Error("Need at least 2 players");
        if (state.phase === "drawing") throw new Error("A round is already running");
        state.round += 1;
        state.strokes = [];
        state.guesses = [];
        state.drawerId = state.players[(state.round - 1) % state.players.length].id;
        state.word = pickRandom(WORDS);
        state.hint = generateHint(state.word);
        state.phase = "drawing";
      },
    },

    draw: {
      input: z.object({ stroke: Stroke }),
      handler: ({ state, input, connectionId }) => {
        if (state.phase !== "drawing") return;
        const drawer = state.players.find((p) => p.id === state.drawerId);
        if (!drawer || drawer.connectionId !== connectionId) throw new Error("Only the drawer draws");
        if (state.strokes.length >= MAX_STROKES) throw new Error(`The canvas is full (${MAX_STROKES} strokes)`);
        state.strokes.push(input.stroke);
      },
    },

    guess: {
      input: z.object({ playerId: z.string(), text: z.string().max(100) }),
      handler: ({ state, input, emit, connectionId }) => {
        if (state.phase !== "drawing") return { correct: false };
        const player = state.players.find((p) => p.id === input.playerId);
        if (!player || player.connectionId !== connectionId) throw new Error("Join the room first");
        if (player.id === state.drawerId) throw new Error("The drawer does not guess");
        const text = input.text.trim();
        if (!text) return { correct: false };
        const correct = text.toLowerCase() === state.word.toLowerCase();
        state.guesses.push({ playerId: player.id, name: player.name, text: correct ? "Guessed correctly!" : text, correct });
        if (state.guesses.length > 50) state.guesses.splice(0, state.guesses.length - 50);
        if (correct) {
          player.score += 10;
          emit("correctGuess", { name: player.name, word: state.word });
          state.phase = "roundEnd";
        }
        return { correct };
      },
    },
  },

  events: {
    correctGuess: z.object({ name: z.string(), word: z.string() }),
  },

  // A closed page leaves the room; the drawer leaving mid-round ends the round.
  onDisconnect({ state, connectionId }) {
    const idx = state.players.findIndex((p) => p.connectionId === connectionId);
    if (idx === -1) return;
    const wasDrawer = state.players[idx].id === state.drawerId;
    state.players.splice(idx, 1);
    if (wasDrawer && state.phase === "drawing") {
      state.phase = "lobby";
      state.word = "";
      state.hint = "";
      state.strokes = [];
    }
  },
});

export const app = createApp({ actors: { draw: DrawingRoom } });
