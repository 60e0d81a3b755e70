import { defineApp } from "convex/server";
import shardedCounter from "@convex-dev/sharded-counter/convex.config";
import rateLimiter from "@convex-dev/rate-limiter/convex.config";
import ledger from "./ledger/convex.config";

const app = defineApp();
app.use(shardedCounter);
app.use(shardedCounter, { name: "visits" });
app.use(rateLimiter);
app.use(ledger);
export default app;
