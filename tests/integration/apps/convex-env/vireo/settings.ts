// Read once, when the module loads (as Convex apps' auth.config.ts reads CLERK_ISSUER).
const issuerAtLoad = process.env.CLERK_ISSUER;

export default { issuer: issuerAtLoad };
