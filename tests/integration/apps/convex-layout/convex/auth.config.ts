// Convex reads this file for its auth providers: bundled as configuration (docs/auth.md), never a
// function module.
export default {
  providers: [
    {
      domain: "https://auth.example.com",
      applicationID: "convex",
    },
  ],
  marker: "AUTH_CONFIG_MARKER",
};
