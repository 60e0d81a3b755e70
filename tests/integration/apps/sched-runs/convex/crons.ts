import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";
const crons = cronJobs();
crons.interval("slow", { seconds: 1 }, internal.s.slow);
crons.interval("tick", { seconds: 1 }, internal.s.log, { kind: "tick" });
crons.interval("hourly", { hours: 1 }, internal.s.log, { kind: "hourly" });
export default crons;
