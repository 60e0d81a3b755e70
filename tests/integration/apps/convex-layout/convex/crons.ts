import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";
import { internalMutation } from "./_generated/server";

const crons = cronJobs();

crons.interval("clear messages", { minutes: 5 }, internal.messages.clear, {});
crons.daily("nightly", { hourUTC: 3, minuteUTC: 30 }, internal.crons.tick);

// a named export of crons.ts is a function like any other
export const tick = internalMutation({ args: {}, handler: async () => "ticked" });

export default crons;
