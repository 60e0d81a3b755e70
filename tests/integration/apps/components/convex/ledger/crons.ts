import { cronJobs, anyApi } from "convex/server";

// a component's cron job runs its own function
const crons = cronJobs();
crons.interval("tick", { seconds: 1 }, anyApi.entries.writeNote, { text: "cron tick" });
export default crons;
