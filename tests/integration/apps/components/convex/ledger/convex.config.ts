import { defineComponent } from "convex/server";
import shardedCounter from "@convex-dev/sharded-counter/convex.config";

// A local component with a child of its own (ledger/shardedCounter).
const component = defineComponent("ledger");
component.use(shardedCounter);
export default component;
