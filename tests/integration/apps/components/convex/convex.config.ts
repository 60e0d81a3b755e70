import { defineApp } from "convex/server";
import { v } from "convex/values";
import shardedCounter from "@convex-dev/sharded-counter/convex.config";
import rateLimiter from "@convex-dev/rate-limiter/convex.config";
import workpool from "@convex-dev/workpool/convex.config";
import aggregate from "@convex-dev/aggregate/convex.config";
import actionRetrier from "@convex-dev/action-retrier/convex.config";
import presence from "@convex-dev/presence/convex.config";
import geospatial from "@convex-dev/geospatial/convex.config";
import migrations from "@convex-dev/migrations/convex.config";
import ledger from "./ledger/convex.config";

const app = defineApp({ env: { LEDGER_GREETING: v.optional(v.string()) } });
app.use(shardedCounter);
app.use(shardedCounter, { name: "visits" });
app.use(rateLimiter);
app.use(workpool, { name: "jobs" });
app.use(aggregate, { name: "scores" });
app.use(actionRetrier);
app.use(presence);
app.use(geospatial);
app.use(migrations);
// the ledger's environment: a value, and one read from the app's own variables
app.use(ledger, { env: { GREETING: app.env.LEDGER_GREETING, MODE: "test" } });
export default app;
