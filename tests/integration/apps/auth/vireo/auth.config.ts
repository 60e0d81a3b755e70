// The test identity provider (tests/integration/idp.mjs): its URL comes from .env.local,
// which the test writes once the provider listens.
export default {
    providers: [
        {
            domain: process.env.AUTH_DOMAIN,
            applicationID: "vireo-test",
        },
    ],
};
