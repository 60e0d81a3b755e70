/* providers: auth.config's providers and verification against them (providers.h). An issuer is
 * compared with one trailing '/' ignored on either side (Auth0's tokens say
 * "https://x.auth0.com/" while apps write the domain without the slash). */
#include "auth/providers.h"

#include <stdio.h>
#include <string.h>

#include "auth/identity.h"
#include "base/mem.h"

#include "base/banned.h"

#define URL_MAX 2048

struct provider {
    enum auth_kind kind;
    char *issuer;         /* OIDC: the domain */
    char *audience;       /* applicationID; NULL: any */
    char *jwks_url;       /* customJwt: given; OIDC: from discovery, NULL until then */
    char *discovery_url;  /* OIDC only */
    int algorithm;        /* customJwt: 0 any, else the one header alg accepted (1 RS256, 2 ES256) */
    struct jwt_keyset *keys; /* NULL until fetched (a secret's from the start) */
    double fetched_at;    /* when keys were last fetched or a fetch failed; 0: never */
};

struct auth_providers {
    struct provider v[AUTH_MAX_PROVIDERS];
    size_t n;
    double refresh_min_s;
    double max_age_s;
    double skew_s; /* tolerance for exp, nbf and iat */
};

static int same_issuer(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '/')
        la--;
    if (lb && b[lb - 1] == '/')
        lb--;
    return la == lb && !memcmp(a, b, la);
}

static int url_ok(const char *u)
{
    return u && strlen(u) < URL_MAX && (!strncmp(u, "https://", 8) || !strncmp(u, "http://", 7));
}

static char *dup_or_null(const char *s)
{
    return s ? vr_strdup(s) : NULL;
}

static int read_provider(const json_t *d, size_t i, struct provider *pv, struct buf *err)
{
    const char *type = json_string_value(json_object_get(d, "type"));
    const json_t *appv = json_object_get(d, "applicationID");
    const char *app = json_string_value(appv);
    if (!json_is_object(d)) {
        buf_appendf(err, "auth.config: providers[%zu] is not an object", i);
        return -1;
    }
    if (appv && !app) {
        buf_appendf(err, "auth.config: providers[%zu].applicationID must be a string", i);
        return -1;
    }
    memset(pv, 0, sizeof(*pv));
    if (type && !strcmp(type, "customJwt")) {
        const char *iss = json_string_value(json_object_get(d, "issuer"));
        const char *jwks = json_string_value(json_object_get(d, "jwks"));
        const char *alg = json_string_value(json_object_get(d, "algorithm"));
        if (!iss || !*iss) {
            buf_appendf(err, "auth.config: providers[%zu] (customJwt) needs `issuer`", i);
            return -1;
        }
        if (!url_ok(jwks)) {
            buf_appendf(err, "auth.config: providers[%zu] (customJwt) needs `jwks`, an http(s) URL", i);
            return -1;
        }
        if (!alg || (strcmp(alg, "RS256") && strcmp(alg, "ES256"))) {
            buf_appendf(err, "auth.config: providers[%zu] (customJwt) `algorithm` must be \"RS256\" or "
                             "\"ES256\"", i);
            return -1;
        }
        pv->kind = AUTH_CUSTOM_JWT;
        pv->issuer = vr_strdup(iss);
        pv->jwks_url = vr_strdup(jwks);
        pv->algorithm = strcmp(alg, "RS256") ? 2 : 1;
    } else if (type) {
        buf_appendf(err, "auth.config: providers[%zu] has an unknown type `%.40s` (customJwt, or none "
                         "for OpenID Connect)", i, type);
        return -1;
    } else {
        const char *domain = json_string_value(json_object_get(d, "domain"));
        if (!url_ok(domain)) {
            buf_appendf(err, "auth.config: providers[%zu] needs `domain`, the issuer's http(s) URL", i);
            return -1;
        }
        if (!app) {
            buf_appendf(err, "auth.config: providers[%zu] needs `applicationID`", i);
            return -1;
        }
        char url[URL_MAX + 64];
        size_t dl = strlen(domain);
        snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration",
                 (int)(dl && domain[dl - 1] == '/' ? dl - 1 : dl), domain);
        pv->kind = AUTH_OIDC;
        pv->issuer = vr_strdup(domain);
        pv->discovery_url = vr_strdup(url);
    }
    pv->audience = dup_or_null(app);
    return 0;
}

static void provider_release(struct provider *pv)
{
    vr_free(pv->issuer);
    vr_free(pv->audience);
    vr_free(pv->jwks_url);
    vr_free(pv->discovery_url);
    jwt_keyset_free(pv->keys);
    memset(pv, 0, sizeof(*pv));
}

int auth_providers_new(const char *config, size_t len, struct auth_providers **out,
                       struct buf *err)
{
    struct auth_providers *p = vr_calloc(1, sizeof(*p));
    json_t *doc = NULL;
    p->refresh_min_s = AUTH_REFRESH_MIN_S;
    p->max_age_s = AUTH_KEYS_MAX_AGE_S;
    p->skew_s = AUTH_CLOCK_SKEW_S;
    *out = NULL;
    if (config) {
        json_error_t je;
        doc = json_loadb(config, len, 0, &je);
        const json_t *list = json_object_get(doc, "providers");
        if (!json_is_object(doc) || (list && !json_is_array(list))) {
            buf_append_str(err, "auth.config: the default export must be {providers: [...]}");
            goto fail;
        }
        if (json_array_size(list) > AUTH_MAX_PROVIDERS) {
            buf_appendf(err, "auth.config: %zu providers; at most %d", json_array_size(list),
                        AUTH_MAX_PROVIDERS);
            goto fail;
        }
        for (size_t i = 0; i < json_array_size(list); i++) {
            if (read_provider(json_array_get(list, i), i, &p->v[p->n], err) < 0)
                goto fail;
            p->n++;
        }
    }
    json_decref(doc);
    *out = p;
    return 0;
fail:
    json_decref(doc);
    auth_providers_free(p);
    return -1;
}

int auth_providers_add_secret(struct auth_providers *p, const char *issuer, const char *audience,
                              const void *secret, size_t len, struct buf *err)
{
    if (p->n == AUTH_MAX_PROVIDERS) {
        buf_appendf(err, "at most %d auth providers", AUTH_MAX_PROVIDERS);
        return -1;
    }
    struct jwt_keyset *ks = jwt_keyset_new();
    if (jwt_keyset_add_hmac(ks, NULL, secret, len, err) < 0) {
        jwt_keyset_free(ks);
        return -1;
    }
    struct provider *pv = &p->v[p->n++];
    memset(pv, 0, sizeof(*pv));
    pv->kind = AUTH_SECRET;
    pv->issuer = dup_or_null(issuer);
    pv->audience = dup_or_null(audience);
    pv->keys = ks;
    return 0;
}

void auth_providers_set_refresh_min(struct auth_providers *p, double seconds)
{
    p->refresh_min_s = seconds;
}

void auth_providers_set_skew(struct auth_providers *p, double seconds)
{
    p->skew_s = seconds;
}

void auth_providers_set_max_age(struct auth_providers *p, double seconds)
{
    p->max_age_s = seconds;
}

int auth_provider_keys_stale(const struct auth_providers *p, size_t i, double now)
{
    const struct provider *pv = &p->v[i];
    return pv->kind != AUTH_SECRET && pv->keys && now - pv->fetched_at >= p->max_age_s;
}

void auth_providers_free(struct auth_providers *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        provider_release(&p->v[i]);
    vr_free(p);
}

size_t auth_providers_count(const struct auth_providers *p)
{
    return p ? p->n : 0;
}

enum auth_status auth_providers_verify(struct auth_providers *p, const char *token, size_t len,
                                       double now, json_t **identity, double *exp,
                                       size_t *provider, enum jwt_status *why, struct buf *err)
{
    char iss[1024];
    struct buf last = BUF_INIT(BUF_NOLIMIT);
    enum jwt_status st = JWT_BAD_ISSUER;
    enum auth_status r = AUTH_REFUSED;
    int unavailable = 0; /* the last provider tried had no keys (a failed fetch) */
    *identity = NULL;
    if (exp)
        *exp = 0;
    if (len > JWT_MAX_TOKEN) {
        st = JWT_TOO_LARGE;
        buf_appendf(err, "the token is %zu bytes; at most %d are accepted", len, JWT_MAX_TOKEN);
        goto out;
    }
    if (jwt_peek_issuer(token, len, iss, sizeof(iss)) < 0) {
        st = JWT_MALFORMED;
        buf_append_str(err, "the token is not a JWT with a string `iss` (issuer)");
        goto out;
    }
    size_t matched = 0;
    for (size_t i = 0; p && i < p->n; i++) {
        struct provider *pv = &p->v[i];
        if (pv->issuer && !same_issuer(pv->issuer, iss))
            continue;
        matched++;
        if (!pv->keys) {
            if (pv->fetched_at && now - pv->fetched_at < AUTH_RETRY_S) {
                st = JWT_UNKNOWN_KID;
                unavailable = 1;
                buf_reset(&last);
                buf_appendf(&last, "the keys of `%.200s` could not be fetched; retry later",
                            pv->issuer);
                continue;
            }
            *provider = i;
            r = AUTH_NEED_KEYS;
            goto out;
        }
        struct jwt_check chk = {.issuer = NULL,
                                .audience = pv->audience,
                                .now = now,
                                .skew = p->skew_s,
                                .require_exp = 1,
                                .alg = pv->algorithm == 1   ? "RS256"
                                       : pv->algorithm == 2 ? "ES256"
                                                            : NULL};
        json_t *claims = NULL;
        buf_reset(&last);
        unavailable = 0;
        st = jwt_verify(token, len, pv->keys, &chk, &claims, NULL, &last);
        if (st == JWT_UNKNOWN_KID && pv->kind != AUTH_SECRET &&
            now - pv->fetched_at >= p->refresh_min_s) {
            *provider = i; /* rotated keys: fetch them again, then retry */
            r = AUTH_NEED_KEYS;
            goto out;
        }
        if (st != JWT_OK)
            continue;
        if (auth_identity(claims, identity, &last) < 0) {
            json_decref(claims);
            st = JWT_BAD_CLAIMS;
            continue;
        }
        if (exp)
            *exp = json_number_value(json_object_get(claims, "exp"));
        json_decref(claims);
        r = AUTH_OK;
        goto out;
    }
    if (!matched)
        buf_appendf(err, "no auth provider is configured for the issuer `%.200s`", iss);
    else
        buf_append(err, last.data, last.len);
    if (unavailable)
        r = AUTH_UNAVAILABLE;
out:
    if (why)
        *why = r == AUTH_OK ? JWT_OK : st;
    buf_release(&last);
    return r;
}

const char *auth_provider_fetch_url(const struct auth_providers *p, size_t i, int *discovery)
{
    const struct provider *pv = &p->v[i];
    *discovery = 0;
    if (pv->kind == AUTH_SECRET)
        return NULL;
    if (!pv->jwks_url) {
        *discovery = 1;
        return pv->discovery_url;
    }
    return pv->jwks_url;
}

int auth_provider_set_discovery(struct auth_providers *p, size_t i, const char *json, size_t len,
                                struct buf *err)
{
    struct provider *pv = &p->v[i];
    json_t *d = json_loadb(json, len, 0, NULL);
    const char *issuer = json_string_value(json_object_get(d, "issuer"));
    const char *jwks = json_string_value(json_object_get(d, "jwks_uri"));
    int r = -1;
    if (!json_is_object(d)) {
        buf_appendf(err, "the OpenID configuration of `%.200s` is not a JSON object", pv->issuer);
    } else if (!issuer || !same_issuer(issuer, pv->issuer)) {
        buf_appendf(err, "the OpenID configuration of `%.200s` names another issuer, `%.200s`",
                    pv->issuer, issuer ? issuer : "(none)");
    } else if (!url_ok(jwks)) {
        buf_appendf(err, "the OpenID configuration of `%.200s` has no http(s) `jwks_uri`",
                    pv->issuer);
    } else {
        vr_free(pv->jwks_url);
        pv->jwks_url = vr_strdup(jwks);
        r = 0;
    }
    json_decref(d);
    return r;
}

int auth_provider_set_keys(struct auth_providers *p, size_t i, const char *json, size_t len,
                           double now, struct buf *err)
{
    struct provider *pv = &p->v[i];
    struct jwt_keyset *ks = jwt_keyset_new();
    pv->fetched_at = now;
    if (jwt_keyset_add_jwks(ks, json, len, NULL, err) < 0) {
        jwt_keyset_free(ks);
        return -1;
    }
    jwt_keyset_free(pv->keys);
    pv->keys = ks;
    return 0;
}

void auth_provider_fetch_failed(struct auth_providers *p, size_t i, double now)
{
    p->v[i].fetched_at = now;
}

const char *auth_provider_issuer(const struct auth_providers *p, size_t i)
{
    return p->v[i].issuer ? p->v[i].issuer : "(any issuer)";
}
