import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();
crons.interval("tick", { seconds: 1 }, internal.jobs.bump, { key: "tick" });
crons.interval("boom", { seconds: 1 }, internal.jobs.boom);
export default crons;
