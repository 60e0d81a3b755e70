// A tiny OpenID Connect issuer for the auth tests: a Node HTTP server on 127.0.0.1 serving
// /.well-known/openid-configuration and its JWKS, with keys generated per run (RSA 2048, EC
// P-256, Ed25519). It signs tokens with them (RS256, ES256, EdDSA) and can rotate to a new key,
// go down (500 for everything) and count the fetches.
import crypto from "node:crypto";
import http from "node:http";

const b64url = (x) => Buffer.from(x).toString("base64url");

export async function startIdp() {
    const keys = new Map(); // kid -> {alg, privateKey, publicKey}
    const published = new Set(); // kids in the JWKS
    const add = (kid, alg) => {
        const pair = alg === "RS256" ? crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
            : alg === "ES256" ? crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
                : crypto.generateKeyPairSync("ed25519");
        keys.set(kid, { alg, ...pair });
        published.add(kid);
    };
    add("rsa1", "RS256");
    add("ec1", "ES256");
    add("ed1", "EdDSA");
    const idp = {
        down: false,
        hits: { discovery: 0, jwks: 0 },
        keys,
        url: "",
        /* A signed token: claims are merged over a valid default set; header over {alg, kid}. */
        sign(claims = {}, { kid = "rsa1", header = {} } = {}) {
            const k = keys.get(kid);
            const now = Math.floor(Date.now() / 1000);
            const payload = { iss: idp.url, aud: "vireo-test", sub: "user-1", iat: now, exp: now + 3600, ...claims };
            for (const [n, v] of Object.entries(payload)) if (v === undefined) delete payload[n];
            const h = { alg: k.alg, kid, typ: "JWT", ...header };
            const data = `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(payload))}`;
            const sig = k.alg === "RS256" ? crypto.sign("sha256", Buffer.from(data), k.privateKey)
                : k.alg === "ES256" ? crypto.sign("sha256", Buffer.from(data), { key: k.privateKey, dsaEncoding: "ieee-p1363" })
                    : crypto.sign(null, Buffer.from(data), k.privateKey);
            return `${data}.${b64url(sig)}`;
        },
        /* A new key published under kid (the old ones stay unless `drop`). */
        rotate(kid, alg = "RS256", { drop = [] } = {}) {
            add(kid, alg);
            for (const d of drop) published.delete(d);
        },
        publicPem(kid) {
            return keys.get(kid).publicKey.export({ type: "spki", format: "pem" });
        },
        close() {
            return new Promise((r) => server.close(r));
        },
    };
    const server = http.createServer((req, res) => {
        const send = (status, body) => {
            res.writeHead(status, { "content-type": "application/json" });
            res.end(typeof body === "string" ? body : JSON.stringify(body));
        };
        if (idp.down) return send(500, { error: "down" });
        if (req.url === "/.well-known/openid-configuration") {
            idp.hits.discovery++;
            return send(200, { issuer: idp.url, jwks_uri: `${idp.url}/jwks`, id_token_signing_alg_values_supported: ["RS256", "ES256", "EdDSA"] });
        }
        if (req.url === "/jwks") {
            idp.hits.jwks++;
            const list = [...published].map((kid) => {
                const k = keys.get(kid);
                return { ...k.publicKey.export({ format: "jwk" }), kid, use: "sig", alg: k.alg };
            });
            return send(200, { keys: list });
        }
        send(404, { error: "not found" });
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    idp.url = `http://127.0.0.1:${server.address().port}`;
    return idp;
}

/* An HS256 token signed with `secret` (the server's --jwt-secret), or with any key bytes. */
export function signHs256(secret, claims, header = {}) {
    const h = { alg: "HS256", typ: "JWT", ...header };
    const data = `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(claims))}`;
    return `${data}.${crypto.createHmac("sha256", secret).update(data).digest("base64url")}`;
}

export { b64url };
