import { defineComponent } from "convex/server";
import { v } from "convex/values";
import shardedCounter from "@convex-dev/sharded-counter/convex.config";

// A local component with a child of its own (ledger/shardedCounter), and environment variables
// its parent passes.
const component = defineComponent("ledger", {
    env: { GREETING: v.optional(v.string()), MODE: v.optional(v.string()) },
});
component.use(shardedCounter);
export default component;
