// Read once, when the module loads (as Convex apps' auth.config.ts reads CLERK_ISSUER).
const issuerAtLoad = process.env.CLERK_ISSUER;

export default { issuer: issuerAtLoad };

// A variable can break loading: `vireo env set BREAK_LOAD yes` must leave the old version serving.
if (process.env.BREAK_LOAD === "yes") throw new Error("load broken on purpose by BREAK_LOAD");
