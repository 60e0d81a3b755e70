// Convex components: not a function module. If it were bundled, defineApp() would throw.
import { defineApp } from "convex/server";

const app = defineApp();

export default app;
