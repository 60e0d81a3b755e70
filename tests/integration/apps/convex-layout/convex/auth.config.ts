// Convex reads this file for its auth providers; it is not a function module (never bundled).
export default {
  providers: [
    {
      domain: "https://auth.example.com",
      applicationID: "convex",
    },
  ],
  marker: "AUTH_CONFIG_MARKER",
};
