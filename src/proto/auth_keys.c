/* auth_keys: verifications that wait for a provider's keys (auth_keys.h). One fetch per provider
 * at a time (discovery, then JWKS); when it ends, the waiters of that provider are taken off the
 * list and verified again — a verification asking for the same provider's keys again right
 * after its fetch is refused rather than fetched in a loop. */
#include "proto/auth_keys.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "net/fetch.h"

#include "base/banned.h"

struct waiter {
    uint64_t id;
    char *token;
    size_t len;
    size_t provider;
    auth_done_fn done;
    void *arg;
    struct waiter *next;
};

struct fetching {
    struct auth_keys *ak;
    size_t provider;
    int busy;
    uint64_t fetch_id;
};

struct auth_keys {
    struct loop *loop;
    struct fetch_client *fc;
    struct auth_providers *p;
    struct waiter *waiters;
    size_t nwaiting;
    uint64_t next_id;
    struct fetching fetch[AUTH_MAX_PROVIDERS];
    char *claim, *claim_value; /* auth_keys_require_claim (owned; NULL: none) */
};

static double now_s(void)
{
    return clock_wall_ms() / 1000.0;
}

void auth_result_init(struct auth_result *r)
{
    memset(r, 0, sizeof(*r));
}

void auth_result_release(struct auth_result *r)
{
    json_decref(r->identity);
    auth_result_init(r);
}

/* Fills r from a verification that did not ask for keys. */
static void result_set(struct auth_result *r, enum auth_status st, json_t *identity, double exp,
                       enum jwt_status why, const char *err)
{
    auth_result_init(r);
    if (st == AUTH_OK) {
        r->identity = identity;
        r->exp = exp * 1000.0;
        return;
    }
    json_decref(identity);
    r->code = st != AUTH_REFUSED ? "AuthUnavailable"
              : why == JWT_EXPIRED ? "TokenExpired"
                                   : "InvalidToken";
    snprintf(r->err, sizeof(r->err), "%s", err && *err ? err : "the token was refused");
}

/* A verified token whose --tenant-claim claim does not name this tenant: refused. */
static void claim_check(const struct auth_keys *ak, struct auth_result *r)
{
    if (!ak->claim || !r->identity)
        return;
    json_t *v = json_object_get(r->identity, ak->claim);
    if (json_is_string(v) && !strcmp(json_string_value(v), ak->claim_value))
        return;
    if (json_is_string(v))
        snprintf(r->err, sizeof r->err,
                 "the token's \"%s\" claim names tenant \"%.100s\", not \"%s\" (--tenant-claim)",
                 ak->claim, json_string_value(v), ak->claim_value);
    else
        snprintf(r->err, sizeof r->err,
                 "the token has no string \"%s\" claim naming tenant \"%s\" (--tenant-claim)",
                 ak->claim, ak->claim_value);
    json_decref(r->identity);
    r->identity = NULL;
    r->exp = 0;
    r->code = "TenantMismatch";
}

void auth_keys_require_claim(struct auth_keys *ak, const char *claim, const char *value)
{
    vr_free(ak->claim);
    vr_free(ak->claim_value);
    ak->claim = claim ? vr_strdup(claim) : NULL;
    ak->claim_value = claim ? vr_strdup(value) : NULL;
}

struct auth_keys *auth_keys_new(struct loop *loop)
{
    struct auth_keys *ak = vr_calloc(1, sizeof(*ak));
    ak->loop = loop;
    ak->fc = fetch_client_new(loop);
    for (size_t i = 0; i < AUTH_MAX_PROVIDERS; i++) {
        ak->fetch[i].ak = ak;
        ak->fetch[i].provider = i;
    }
    return ak;
}

static void waiter_free(struct waiter *w)
{
    vr_free(w->token);
    vr_free(w);
}

static void cancel_fetches(struct auth_keys *ak)
{
    for (size_t i = 0; i < AUTH_MAX_PROVIDERS; i++) {
        if (ak->fetch[i].busy)
            fetch_cancel(ak->fc, ak->fetch[i].fetch_id);
        ak->fetch[i].busy = 0;
    }
}

void auth_keys_free(struct auth_keys *ak)
{
    if (!ak)
        return;
    cancel_fetches(ak);
    fetch_client_free(ak->fc);
    while (ak->waiters) {
        struct waiter *w = ak->waiters;
        ak->waiters = w->next;
        waiter_free(w);
    }
    auth_providers_free(ak->p);
    vr_free(ak->claim);
    vr_free(ak->claim_value);
    vr_free(ak);
}

size_t auth_keys_provider_count(const struct auth_keys *ak)
{
    return auth_providers_count(ak->p);
}

size_t auth_keys_waiting(const struct auth_keys *ak)
{
    return ak->nwaiting;
}

static void start_fetch(struct auth_keys *ak, size_t i);

static void fetch_done(void *arg, const struct fetch_resp *r)
{
    struct fetching *f = arg;
    struct auth_keys *ak = f->ak;
    size_t i = f->provider;
    struct buf err = BUF_INIT(4096);
    int disc = 0;
    f->busy = 0;
    const char *url = auth_provider_fetch_url(ak->p, i, &disc);
    int ok = r->ok && r->status == 200;
    if (!ok) {
        if (r->ok)
            buf_appendf(&err, "HTTP %ld", r->status);
        else
            buf_appendf(&err, "%s", r->err_msg ? r->err_msg : "the request failed");
    } else if (disc) {
        ok = auth_provider_set_discovery(ak->p, i, r->body, r->body_len, &err) == 0;
        if (ok) { /* on to the JWKS the document names */
            start_fetch(ak, i);
            buf_release(&err);
            if (ak->fetch[i].busy)
                return;
            ok = 0;
            buf_append_str(&err, "cannot start fetching the JWKS");
        }
    } else {
        ok = auth_provider_set_keys(ak->p, i, r->body, r->body_len, now_s(), &err) == 0;
        if (ok)
            log_info("auth", "keys of \"%s\" fetched from %s", auth_provider_issuer(ak->p, i),
                     url);
    }
    if (!ok) {
        auth_provider_fetch_failed(ak->p, i, now_s());
        log_warn("auth", "cannot fetch the %s of \"%s\" (%s): %s",
                 disc ? "OpenID configuration" : "keys", auth_provider_issuer(ak->p, i),
                 url ? url : "", err.data);
    }
    buf_release(&err);
    /* verify this provider's waiters again (their done may call back into us: detach first) */
    struct waiter *list = NULL, **tail = &list, **pp = &ak->waiters;
    while (*pp) {
        struct waiter *w = *pp;
        if (w->provider == i) {
            *pp = w->next;
            w->next = NULL;
            *tail = w;
            tail = &w->next;
            ak->nwaiting--;
        } else {
            pp = &w->next;
        }
    }
    while (list) {
        struct waiter *w = list;
        list = w->next;
        json_t *id = NULL;
        size_t which = 0;
        double exp = 0;
        enum jwt_status why = JWT_OK;
        struct buf e = BUF_INIT(4096);
        enum auth_status st =
            auth_providers_verify(ak->p, w->token, w->len, now_s(), &id, &exp, &which, &why, &e);
        if (st == AUTH_NEED_KEYS) { /* asked again right after its fetch: not in a loop */
            buf_reset(&e);
            buf_appendf(&e, "the keys of \"%s\" are not available; retry later",
                        auth_provider_issuer(ak->p, which));
            st = AUTH_UNAVAILABLE;
        }
        struct auth_result res;
        result_set(&res, st, id, exp, why, e.data);
        claim_check(ak, &res);
        w->done(w->arg, &res);
        auth_result_release(&res);
        buf_release(&e);
        waiter_free(w);
    }
}

static void start_fetch(struct auth_keys *ak, size_t i)
{
    struct fetching *f = &ak->fetch[i];
    int disc = 0;
    const char *url = auth_provider_fetch_url(ak->p, i, &disc);
    if (f->busy || !url)
        return;
    static const char *const headers[] = { "Accept: application/json" };
    struct fetch_req req = { .method = "GET",
                             .url = url,
                             .headers = headers,
                             .nheaders = 1,
                             .timeout_ms = AUTH_KEYS_FETCH_TIMEOUT_MS,
                             .max_response = AUTH_KEYS_MAX_DOCUMENT };
    struct buf err = BUF_INIT(4096);
    if (fetch_start(ak->fc, &req, fetch_done, f, &f->fetch_id, &err) == 0) {
        f->busy = 1;
    } else {
        auth_provider_fetch_failed(ak->p, i, now_s());
        log_warn("auth", "cannot fetch %s: %s", url, err.data);
    }
    buf_release(&err);
}

int auth_keys_verify(struct auth_keys *ak, const char *token, size_t len, struct auth_result *r,
                     auth_done_fn done, void *arg, uint64_t *wait_id)
{
    size_t which = 0;
    double exp = 0;
    enum jwt_status why = JWT_OK;
    json_t *identity = NULL;
    auth_result_init(r);
    if (!ak || !ak->p || auth_providers_count(ak->p) == 0) {
        /* as Convex words it (its client reads nothing into the text) */
        result_set(r, AUTH_REFUSED, NULL, 0, JWT_OK,
                   "No auth provider found matching the given token (no providers configured). "
                   "Check convex/auth.config.ts (or start the server with --jwt-secret).");
        return 1;
    }
    /* keys past their age are fetched again in the background; they verify meanwhile */
    for (size_t k = 0; k < auth_providers_count(ak->p); k++)
        if (auth_provider_keys_stale(ak->p, k, now_s()))
            start_fetch(ak, k);
    struct buf err = BUF_INIT(4096);
    enum auth_status st =
        auth_providers_verify(ak->p, token, len, now_s(), &identity, &exp, &which, &why, &err);
    if (st != AUTH_NEED_KEYS) {
        result_set(r, st, identity, exp, why, err.data);
        claim_check(ak, r);
        buf_release(&err);
        return 1;
    }
    start_fetch(ak, which);
    if (!ak->fetch[which].busy || ak->nwaiting >= AUTH_KEYS_MAX_WAITERS) {
        buf_reset(&err);
        if (!ak->fetch[which].busy)
            buf_appendf(&err, "the keys of \"%s\" are not available; retry later",
                        auth_provider_issuer(ak->p, which));
        else
            buf_appendf(&err, "%d verifications are already waiting for keys; retry later",
                        AUTH_KEYS_MAX_WAITERS);
        result_set(r, AUTH_UNAVAILABLE, NULL, 0, JWT_OK, err.data);
        buf_release(&err);
        return 1;
    }
    buf_release(&err);
    struct waiter *w = vr_calloc(1, sizeof(*w));
    w->id = ++ak->next_id;
    w->token = vr_memdup(token, len);
    w->len = len;
    w->provider = which;
    w->done = done;
    w->arg = arg;
    w->next = ak->waiters;
    ak->waiters = w;
    ak->nwaiting++;
    *wait_id = w->id;
    return 0;
}

void auth_keys_cancel(struct auth_keys *ak, uint64_t wait_id)
{
    if (!ak)
        return;
    for (struct waiter **pp = &ak->waiters; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == wait_id) {
            struct waiter *w = *pp;
            *pp = w->next;
            ak->nwaiting--;
            waiter_free(w);
            return;
        }
    }
}

void auth_keys_set_providers(struct auth_keys *ak, struct auth_providers *p)
{
    cancel_fetches(ak);
    auth_providers_free(ak->p);
    ak->p = p;
    struct waiter *list = ak->waiters;
    ak->waiters = NULL;
    ak->nwaiting = 0;
    while (list) {
        struct waiter *w = list;
        list = w->next;
        uint64_t again = 0;
        struct auth_result res;
        int now = auth_keys_verify(ak, w->token, w->len, &res, w->done, w->arg, &again);
        if (now)
            w->done(w->arg, &res);
        else
            ak->waiters->id = w->id; /* the caller's wait id stays valid */
        auth_result_release(&res);
        waiter_free(w);
    }
}
