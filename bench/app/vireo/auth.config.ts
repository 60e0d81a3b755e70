// The bench app's identity provider: bench/auth.mjs starts a local OpenID Connect issuer and sets
// BENCH_AUTH_DOMAIN through the admin API; the other scenarios run with no provider.
export default {
  providers: process.env.BENCH_AUTH_DOMAIN
    ? [{ domain: process.env.BENCH_AUTH_DOMAIN, applicationID: "vireo-test" }]
    : [],
};
