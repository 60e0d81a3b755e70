/* identity: claims -> UserIdentity (identity.h). The mapping is Convex's (its UserIdentity type
 * names each field's claim); registered claims that only describe the token (aud, exp, nbf, iat,
 * jti) are left out, as they say nothing of the user. */
#include "auth/identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

#include "base/banned.h"

static const struct {
    const char *claim, *field;
} oidc[] = {
    { "name", "name" },
    { "given_name", "givenName" },
    { "family_name", "familyName" },
    { "nickname", "nickname" },
    { "preferred_username", "preferredUsername" },
    { "profile", "profileUrl" },
    { "picture", "pictureUrl" },
    { "email", "email" },
    { "email_verified", "emailVerified" },
    { "gender", "gender" },
    { "birthdate", "birthday" },
    { "zoneinfo", "timezone" },
    { "locale", "language" },
    { "phone_number", "phoneNumber" },
    { "phone_number_verified", "phoneNumberVerified" },
    { "address", "address" },
    { "updated_at", "updatedAt" },
};

static const char *const token_only[] = { "iss", "sub", "aud", "exp", "nbf", "iat", "jti" };

static int is_mapped(const char *claim)
{
    for (size_t i = 0; i < sizeof(oidc) / sizeof(oidc[0]); i++)
        if (!strcmp(claim, oidc[i].claim))
            return 1;
    for (size_t i = 0; i < sizeof(token_only) / sizeof(token_only[0]); i++)
        if (!strcmp(claim, token_only[i]))
            return 1;
    return 0;
}

/* Convex types address and updatedAt as strings; OIDC has them as an object and a number. */
static json_t *as_string(const json_t *v)
{
    if (json_is_string(v))
        return json_incref((json_t *)v);
    double d = json_number_value(v);
    if (json_is_integer(v) || (json_is_real(v) && d > -9e15 && d < 9e15 && d == (double)(long long)d)) {
        char num[32];
        snprintf(num, sizeof(num), "%lld",
                 json_is_integer(v) ? (long long)json_integer_value(v) : (long long)d);
        return json_string(num);
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    json_t *s = text ? json_string(text) : NULL;
    free(text); /* jansson's allocation */
    return s;
}

int auth_identity(const json_t *claims, json_t **identity, struct buf *err)
{
    const json_t *issv = json_object_get(claims, "iss"), *subv = json_object_get(claims, "sub");
    const char *iss = json_string_value(issv), *sub = json_string_value(subv);
    *identity = NULL;
    if (!iss || !sub || !*iss || !*sub) {
        buf_appendf(err, "the token has no %s; an identity needs both `iss` and `sub`",
                    !iss || !*iss ? "issuer (`iss`)" : "subject (`sub`)");
        return -1;
    }
    json_t *id = json_object();
    size_t n = strlen(iss) + 1 + strlen(sub) + 1;
    char *tid = vr_malloc(n);
    snprintf(tid, n, "%s|%s", iss, sub);
    json_object_set_new(id, "tokenIdentifier", json_string(tid));
    vr_free(tid);
    json_object_set_new(id, "subject", json_string(sub));
    json_object_set_new(id, "issuer", json_string(iss));
    for (size_t i = 0; i < sizeof(oidc) / sizeof(oidc[0]); i++) {
        const json_t *v = json_object_get(claims, oidc[i].claim);
        if (!v || json_is_null(v))
            continue;
        int str = !strcmp(oidc[i].field, "address") || !strcmp(oidc[i].field, "updatedAt");
        json_t *out = str ? as_string(v) : json_incref((json_t *)v);
        if (out)
            json_object_set_new(id, oidc[i].field, out);
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)claims, key, v) {
        if (!is_mapped(key) && !json_object_get(id, key))
            json_object_set(id, key, v);
    }
    *identity = id;
    return 0;
}
