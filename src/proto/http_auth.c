/* http_auth: Bearer tokens on HTTP requests (http_auth.h). A held request owns a copy of the
 * request (one allocation: the slices point into it) and a reference on its connection; it is
 * on the api's list until its verification answers or the server stops. */
#include "proto/http_auth.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "base/base64.h"
#include "base/json_parse.h"
#include "base/mem.h"
#include "proto/auth_keys.h"
#include "proto/convex_http.h"

#include "base/banned.h"

struct http_auth_hold {
    struct http_api *api;
    struct conn *c;
    struct http_request req; /* slices into `copy` */
    char *copy;
    int how;
    http_auth_run_fn run;
    void *arg;
    json_t *body; /* referenced, or NULL */
    uint64_t wait_id;
    struct http_auth_hold *prev, *next;
};

int http_auth_bearer(const struct http_request *req, const char **tok, size_t *len)
{
    const struct slice *h = http_header_get(req, "authorization");
    static const char prefix[] = "Bearer ";
    if (!h || h->len < sizeof prefix - 1 || strncasecmp(h->p, prefix, sizeof prefix - 1))
        return 0;
    size_t off = sizeof prefix - 1;
    while (off < h->len && h->p[off] == ' ')
        off++;
    *tok = h->p + off;
    *len = h->len - off;
    return 1;
}

/* The identity an admin acts as: base64 of a JSON object (setAdminAuth's actingAsIdentity); the
 * request head's limit (16 KiB) bounds it. */
static int acting_as(const char *b64, size_t n, char **identity, struct buf *err)
{
    unsigned char *raw = vr_malloc(3 * ((n + 3) / 4) + 1);
    long got = base64_decode(raw, b64, n);
    json_t *o = got < 0 ? NULL : json_parse((const char *)raw, (size_t)got, 0, NULL);
    vr_free(raw);
    if (!json_is_object(o)) {
        json_decref(o);
        return buf_fail(err, "the identity to act as (after the admin key and ':') must be "
                             "base64 of a JSON object, as setAdminAuth(key, identity) sends it");
    }
    *identity = http_auth_identity_text(o);
    json_decref(o);
    return *identity ? 0 : buf_fail(err, "the identity to act as could not be encoded");
}

char *http_auth_identity_text(const json_t *given)
{
    json_t *o = json_deep_copy(given);
    if (!o)
        return NULL;
    const char *iss = json_string_value(json_object_get(o, "issuer")),
               *sub = json_string_value(json_object_get(o, "subject"));
    if (!json_object_get(o, "tokenIdentifier") && iss && sub) {
        struct buf t = BUF_INIT(BUF_NOLIMIT);
        buf_appendf(&t, "%s|%s", iss, sub);
        json_object_set_new(o, "tokenIdentifier", json_stringn(t.data, t.len));
        buf_release(&t);
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return text;
}

static const char convex_prefix[] = "Convex ";

const struct slice *http_auth_convex_scheme(const struct http_request *req)
{
    const struct slice *h = http_header_get(req, "authorization");
    return h && h->len >= sizeof convex_prefix - 1 &&
                   !strncasecmp(h->p, convex_prefix, sizeof convex_prefix - 1)
               ? h
               : NULL;
}

int http_auth_admin_key_is(const char *given, size_t len, const char *admin_key)
{
    return admin_key && len == strlen(admin_key) && !CRYPTO_memcmp(given, admin_key, len);
}

int http_auth_convex_admin(const struct http_request *req, const char *admin_key, char **identity,
                           int *status, struct buf *err)
{
    *identity = NULL;
    const struct slice *h = http_auth_convex_scheme(req);
    if (!h)
        return 0;
    const char *key = h->p + sizeof convex_prefix - 1, *end = h->p + h->len;
    const char *colon = memchr(key, ':', (size_t)(end - key));
    size_t klen = (size_t)((colon ? colon : end) - key);
    *status = 401;
    if (!http_auth_admin_key_is(key, klen, admin_key))
        return buf_fail(err, "The provided admin key was invalid for this instance");
    *status = 400;
    if (colon && acting_as(colon + 1, (size_t)(end - colon - 1), identity, err) < 0)
        return -1;
    return 1;
}

static void refuse(struct conn *c, int convex, const struct auth_result *r)
{
    int status = !strcmp(r->code, "TenantMismatch") ? 403 : 401; /* valid, but not here */
    if (!convex) {
        http_api_respond_error(c, status, r->code, r->err, NULL);
        return;
    }
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    convex_http_request_error(&b, r->code, r->err);
    http_respond(c, status, "application/json", b.data, b.len, "Access-Control-Allow-Origin: *\r\n");
    buf_release(&b);
}

/* An HTTP action's run with its Authorization header refused: the reason, marked. */
static void run_refused(struct http_api *api, struct conn *c, struct http_request *req,
                        http_auth_run_fn run, const void *arg, json_t *body, const char *why)
{
    struct buf mark = BUF_INIT(BUF_NOLIMIT);
    buf_appendf(&mark, "%c%s", HTTP_AUTH_ERROR_MARK, why);
    run(api, c, req, arg, mark.data, body);
    buf_release(&mark);
}

/* Runs the request's function with the verdict's identity, or refuses it. */
static void answer(struct http_api *api, struct conn *c, struct http_request *req, int how,
                   http_auth_run_fn run, const void *arg, json_t *body, const struct auth_result *r)
{
    if (!r->identity) {
        if (how & HTTP_AUTH_LENIENT)
            run_refused(api, c, req, run, arg, body, r->err);
        else
            refuse(c, how & HTTP_AUTH_CONVEX, r);
        return;
    }
    char *text = json_dumps(r->identity, JSON_COMPACT | JSON_SORT_KEYS);
    run(api, c, req, arg, text, body);
    free(text); /* jansson's allocation */
}

static void copy_slice(struct slice *s, char **at)
{
    if (s->len)
        memcpy(*at, s->p, s->len);
    s->p = *at;
    *at += s->len;
}

static void hold_free(struct http_auth_hold *h)
{
    struct http_api *api = h->api;
    if (h->prev)
        h->prev->next = h->next;
    else
        api->auth_holds = h->next;
    if (h->next)
        h->next->prev = h->prev;
    conn_unref(h->c);
    vr_free(h->copy);
    vr_free(h->arg);
    json_decref(h->body);
    vr_free(h);
}

static void on_verified(void *arg, const struct auth_result *r)
{
    struct http_auth_hold *h = arg;
    if (!conn_is_closed(h->c))
        answer(h->api, h->c, &h->req, h->how, h->run, h->arg, h->body, r);
    hold_free(h);
}

void http_auth_run(struct http_api *api, struct conn *c, struct http_request *req, int how,
                   http_auth_run_fn run, const void *arg, size_t arg_len, json_t *body)
{
    const char *tok = NULL;
    size_t len = 0;
    if (!api->shard->rt) { /* no app: no providers yet, and no function a token could reach; the
                            * handler answers NoAppLoaded, not InvalidToken (a client may drop
                            * a token it is told is invalid) */
        run(api, c, req, arg, NULL, body);
        return;
    }
    if (!http_auth_bearer(req, &tok, &len)) {
        if ((how & HTTP_AUTH_LENIENT) && http_header_get(req, "authorization"))
            run_refused(api, c, req, run, arg, body,
                        "the Authorization header is not `Bearer <token>` of an auth provider "
                        "of this app");
        else
            run(api, c, req, arg, NULL, body);
        return;
    }
    struct http_auth_hold *h = vr_calloc(1, sizeof *h);
    struct auth_result r;
    if (auth_keys_verify(api->shard->auth, tok, len, &r, on_verified, h, &h->wait_id)) {
        vr_free(h);
        answer(api, c, req, how, run, arg, body, &r);
        auth_result_release(&r);
        return;
    }
    /* waiting for keys: keep what the answer needs */
    h->api = api;
    h->c = c;
    h->how = how;
    h->run = run;
    h->arg = arg_len ? vr_memdup(arg, arg_len) : NULL;
    h->body = json_incref(body);
    h->req = *req;
    size_t n = req->method.len + req->target.len + req->path.len + req->query.len +
               req->body.len;
    for (size_t i = 0; i < req->n_headers; i++)
        n += req->headers[i].name.len + req->headers[i].value.len;
    char *at = h->copy = vr_malloc(n ? n : 1);
    copy_slice(&h->req.method, &at);
    copy_slice(&h->req.target, &at);
    copy_slice(&h->req.path, &at);
    copy_slice(&h->req.query, &at);
    copy_slice(&h->req.body, &at);
    for (size_t i = 0; i < req->n_headers; i++) {
        copy_slice(&h->req.headers[i].name, &at);
        copy_slice(&h->req.headers[i].value, &at);
    }
    conn_ref(c);
    h->next = api->auth_holds;
    if (h->next)
        h->next->prev = h;
    api->auth_holds = h;
}

void http_auth_release(struct http_api *api)
{
    while (api->auth_holds) {
        struct http_auth_hold *h = api->auth_holds;
        auth_keys_cancel(api->shard->auth, h->wait_id);
        hold_free(h);
    }
}
