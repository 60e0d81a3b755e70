// The actors of the `actor-rpc` and `actor-fanout` benchmarks (bench/actor-rpc.mjs,
// bench/actor-fanout.mjs), written as a Zocket app: `counter.increment` is the call
// actor-rpc pipelines; `board.set` writes the caller's send time into the state, so each of
// actor-fanout's state subscribers reads its own delivery latency from the patch it gets.
// A bench app of its own (not bench/app) because it bundles zod: the other scenarios, tenants'
// app load time in particular, stay as they were.
import { actor, createApp } from "@zocket/core";
import { z } from "zod";

const Counter = actor({
  state: z.object({ count: z.number().default(0) }),
  methods: {
    increment: {
      handler: ({ state }) => {
        state.count += 1;
        return state.count;
      },
    },
  },
});

const Board = actor({
  state: z.object({ seq: z.number().default(0), t: z.number().default(0) }),
  methods: {
    set: {
      input: z.object({ seq: z.number(), t: z.number() }),
      handler: ({ state, input }) => {
        state.seq = input.seq;
        state.t = input.t;
      },
    },
  },
});

export const app = createApp({ actors: { counter: Counter, board: Board } });
