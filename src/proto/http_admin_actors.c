/* http_admin_actors: list, inspect and destroy live actor instances over HTTP (admin key). An
 * instance is listed when the runtime has it in memory (hot), when `_actors` holds its state,
 * or when the server tracks connections to it (actors.c); a list is a merge of the three in
 * (actor, actorId) order, paged by an opaque cursor. Destroying runs onDeactivate (if hot) and
 * deletes the stored state in `_system/actors:run`, so it is one transaction of the shard's
 * batch; the answer, like the state subscribers' fresh snapshots, goes out after the commit. */
#include "proto/http_admin_actors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "proto/actors.h"
#include "proto/reply.h"
#include "base/banned.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000
/* bulk calls per destroy-all request, each destroying up to 500 instances (ADMIN_DESTROY_MAX in
 * 47_actors.js) */
#define DESTROY_ALL_CALLS 20
#define DESTROY_ALL_SINGLES 200 /* hot instances with onDeactivate per destroy-all request */
#define DESTROY_ALL_FAILURES 10 /* onDeactivate failures that end a destroy-all request */
#define CURSOR_MAX 16384        /* a cursor's characters (an id of 512 escaped characters fits) */

/* Answers now or, when the batch this request ran in is open, after its commit. */
static void answer(struct http_api *api, struct conn *c, int status, json_t *body)
{
    char *t = json_dumps(body, JSON_COMPACT);
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, t ? t : "{}");
    free(t);
    json_decref(body);
    http_api_respond_call(api, c, status, 0, &b);
    buf_release(&b);
}

static void fail(struct http_api *api, struct conn *c, int status, const char *code,
                 const char *msg)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"status\":\"error\",");
    reply_error_fields(&b, code, msg, strlen(msg), NULL, 0);
    buf_append_byte(&b, '}');
    http_api_respond_call(api, c, status, 0, &b);
    buf_release(&b);
}

/* Runs an admin operation of the actor runtime; NULL after answering the failure. */
static json_t *run(struct http_api *api, struct conn *c, json_t *args)
{
    struct buf err = BUF_INIT(64 * 1024), code = BUF_INIT(256);
    json_t *r = NULL;
    int rc = actors_admin_run(api->actors, args, &r, &code, &err);
    json_decref(args);
    if (rc == -2)
        fail(api, c, 503, "NoAppLoaded",
             "no app is loaded yet (the dev server is waiting for code that loads)");
    else if (rc < 0)
        fail(api, c, 500, code.len ? code.data : "InternalError", err.data);
    buf_release(&err);
    buf_release(&code);
    return rc < 0 ? NULL : r;
}

/* Percent-decodes (p, n) into out (plus: '+' is a space, as in a query string). -1 on a bad
 * escape, an encoded U+0000 or text that is not UTF-8 (checked by the caller's json_string). */
static int pct_decode(const char *p, size_t n, int plus, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '%') {
            int v = 0;
            for (int k = 1; k <= 2; k++) {
                char h = i + (size_t)k < n ? p[i + (size_t)k] : 0;
                int d = h >= '0' && h <= '9'   ? h - '0'
                        : h >= 'a' && h <= 'f' ? h - 'a' + 10
                        : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                               : -1;
                if (d < 0)
                    return -1;
                v = v * 16 + d;
            }
            if (v == 0)
                return -1;
            ch = (char)v;
            i += 2;
        } else if (ch == '+' && plus) {
            ch = ' ';
        }
        if (buf_append_byte(out, ch) < 0)
            return -1;
    }
    return 0;
}

/* A decoded UTF-8 string without U+0000 as a new JSON string, non-empty unless empty_ok (an
 * actorId may be "", as over the WebSocket); NULL if it is not. */
static json_t *decoded_string(const char *p, size_t n, int plus, int empty_ok)
{
    struct buf b = BUF_INIT(64 * 1024);
    json_t *s = NULL;
    if ((n > 0 || empty_ok) && pct_decode(p, n, plus, &b) == 0 && (b.len > 0 || empty_ok))
        s = json_stringn(b.len ? b.data : "", b.len);
    buf_release(&b);
    return s;
}

static int pair_cmp(json_t *x, json_t *y)
{
    int c =
        strcmp(json_string_value(json_array_get(x, 0)), json_string_value(json_array_get(y, 0)));
    return c ? c
             : strcmp(json_string_value(json_array_get(x, 1)),
                      json_string_value(json_array_get(y, 1)));
}

/* {actor, actorId, hot, stored, connections, stateSubscribers, eventSubscribers} */
static json_t *list_item(struct actors *a, const char *name, const char *id, int hot, int stored)
{
    json_t *info = actors_admin_info(a, name, id, 0);
    json_t *o = json_pack(
        "{s:s, s:s, s:b, s:I, s:I, s:I, s:b}", "actor", name, "actorId", id, "hot", hot,
        "connections", json_integer_value(json_object_get(info, "connections")), "stateSubscribers",
        json_integer_value(json_object_get(info, "stateSubscribers")), "eventSubscribers",
        json_integer_value(json_object_get(info, "eventSubscribers")), "stored", stored);
    json_decref(info);
    return o;
}

/* GET /api/admin/actors?limit=&cursor=&actor= */
static void handle_list(struct http_api *api, struct conn *c, const struct http_request *req)
{
    struct slice v;
    long limit = LIST_DEFAULT;
    json_t *only = NULL, *after = NULL, *args = NULL, *r = NULL, *tracked = NULL;
    if (http_query_param(req->query, "limit", &v)) {
        limit = v.len >= 1 && v.len <= 4 ? 0 : -1;
        for (size_t k = 0; limit >= 0 && k < v.len; k++)
            limit = v.p[k] >= '0' && v.p[k] <= '9' ? limit * 10 + (v.p[k] - '0') : -1;
        if (limit < 1 || limit > LIST_MAX) {
            fail(api, c, 400, "InvalidArgument", "`limit` must be an integer from 1 to 1000");
            goto out;
        }
    }
    if (http_query_param(req->query, "actor", &v) && !(only = decoded_string(v.p, v.len, 1, 0))) {
        fail(api, c, 400, "InvalidArgument",
             "`actor` must be a non-empty, percent-encoded UTF-8 name");
        goto out;
    }
    if (http_query_param(req->query, "cursor", &v)) {
        unsigned char raw[CURSOR_MAX];
        long n = v.len > 0 && v.len < CURSOR_MAX ? base64_decode(raw, v.p, v.len) : -1;
        after = n > 0 ? json_loadb((const char *)raw, (size_t)n, 0, NULL) : NULL;
        if (!json_is_array(after) || json_array_size(after) != 2 ||
            !json_is_string(json_array_get(after, 0)) ||
            !json_is_string(json_array_get(after, 1))) {
            fail(api, c, 400, "InvalidCursor",
                 "`cursor` is not a cursor of this list (pass the `cursor` of the last answer)");
            goto out;
        }
    }
    args = json_pack("{s:s, s:O?, s:O?, s:I}", "what", "list", "actor", only, "after", after,
                     "limit", (json_int_t)limit + 1);
    if (!(r = run(api, c, args)))
        goto out;
    const char *an = json_string_value(json_array_get(after, 0));
    const char *ai = json_string_value(json_array_get(after, 1));
    tracked = actors_admin_tracked(api->actors, json_string_value(only), an, ai, (size_t)limit + 1);
    /* both lists are sorted and hold the first limit+1 of their kind: merged, their first
     * limit+1 are those of the union */
    json_t *items = json_object_get(r, "items"), *out = json_array(), *last = NULL;
    size_t i = 0, j = 0, ni = json_array_size(items), nj = json_array_size(tracked);
    int more = 0;
    while (i < ni || j < nj) {
        json_t *x = json_array_get(items, i), *y = json_array_get(tracked, j);
        int cmp = !x ? 1 : !y ? -1 : pair_cmp(x, y);
        json_t *pick = cmp <= 0 ? x : y;
        if (json_array_size(out) == (size_t)limit) {
            more = 1;
            break;
        }
        json_array_append_new(out,
                              list_item(api->actors, json_string_value(json_array_get(pick, 0)),
                                        json_string_value(json_array_get(pick, 1)),
                                        cmp <= 0 && json_is_true(json_array_get(x, 2)),
                                        cmp <= 0 && json_is_true(json_array_get(x, 3))));
        last = pick;
        i += cmp <= 0;
        j += cmp >= 0;
    }
    json_t *cursor = json_null();
    if (more && last) {
        json_t *pair = json_pack("[O,O]", json_array_get(last, 0), json_array_get(last, 1));
        char *t = json_dumps(pair, JSON_COMPACT);
        json_decref(pair);
        struct buf b = BUF_INIT(BUF_NOLIMIT);
        base64_encode(&b, t, strlen(t), 1);
        cursor = json_stringn(b.data, b.len);
        buf_release(&b);
        free(t);
    }
    answer(api, c, 200,
           json_pack("{s:O, s:o, s:o}", "size", json_object_get(r, "size"), "actors", out, "cursor",
                     cursor));
out:
    json_decref(only);
    json_decref(after);
    json_decref(r);
    json_decref(tracked);
}

/* GET /api/admin/actors/<actor>/<actorId> */
static void handle_inspect(struct http_api *api, struct conn *c, json_t *name, json_t *id)
{
    const char *n = json_string_value(name), *i = json_string_value(id);
    json_t *info = actors_admin_info(api->actors, n, i, 1);
    json_t *r = run(api, c,
                    json_pack("{s:s, s:O, s:O, s:b}", "what", "inspect", "a", name, "i", id,
                              "tracked", info != NULL));
    if (!r)
        goto out;
    if (json_is_null(r)) {
        char msg[800];
        snprintf(msg, sizeof msg,
                 "no actor instance %.128s/%.512s: it is neither stored nor in "
                 "memory",
                 n, i);
        fail(api, c, 404, "ActorNotFound", msg);
        goto out;
    }
    json_t *o = json_pack("{s:O, s:O, s:O, s:O}", "actor", name, "actorId", id, "hot",
                          json_object_get(r, "hot"), "stored", json_object_get(r, "stored"));
    json_object_set_new(o, "connections",
                        info ? json_incref(json_object_get(info, "connections")) : json_array());
    json_object_set_new(o, "stateSubscribers",
                        info ? json_incref(json_object_get(info, "stateSubscribers"))
                             : json_array());
    json_object_set_new(o, "eventSubscribers",
                        info ? json_incref(json_object_get(info, "eventSubscribers"))
                             : json_array());
    /* the state as the runtime wrote it (jansson would reprint its numbers), last */
    char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    const char *st = json_string_value(json_object_get(r, "state"));
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append(&b, t, strlen(t) - 1);
    buf_appendf(&b, ",\"state\":%s}", st ? st : "null");
    free(t);
    http_api_respond_call(api, c, 200, 0, &b);
    buf_release(&b);
out:
    json_decref(r);
    json_decref(info);
}

/* The request's JSON object body (empty: {} when `empty_ok`); NULL after answering. */
static json_t *body_object(struct http_api *api, struct conn *c, const struct http_request *req,
                           int empty_ok)
{
    if (empty_ok && req->body.len == 0)
        return json_object();
    json_error_t jerr;
    json_t *b = json_loadb(req->body.p, req->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(b)) {
        char msg[300];
        if (b)
            snprintf(msg, sizeof msg, "the body must be a JSON object");
        else
            snprintf(msg, sizeof msg, "invalid JSON body: %s (line %d, column %d)", jerr.text,
                     jerr.line, jerr.column);
        fail(api, c, 400, "BadJsonBody", msg);
        json_decref(b);
        return NULL;
    }
    return b;
}

/* The body's field `key` if it is a string without U+0000, non-empty but for "actorId" (an
 * instance's id may be "", as over the WebSocket); else NULL (and, when `required` or present,
 * an answer sent; *bad set). */
static json_t *name_field(struct http_api *api, struct conn *c, json_t *body, const char *key,
                          int required, int *bad)
{
    json_t *v = json_object_get(body, key);
    int empty_ok = !strcmp(key, "actorId");
    if (!v && !required)
        return NULL;
    if (!json_is_string(v) || (json_string_length(v) == 0 && !empty_ok) ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        char msg[160];
        snprintf(msg, sizeof msg, "the body needs \"%s\": a %sstring without U+0000", key,
                 empty_ok ? "" : "non-empty ");
        fail(api, c, 400, "InvalidArgument", msg);
        *bad = 1;
        return NULL;
    }
    return v;
}

/* POST /api/admin/actors/destroy {actor, actorId} */
static void handle_destroy(struct http_api *api, struct conn *c, const struct http_request *req)
{
    int bad = 0;
    json_t *b = body_object(api, c, req, 0), *r = NULL;
    if (!b)
        return;
    json_t *name = name_field(api, c, b, "actor", 1, &bad);
    json_t *id = bad ? NULL : name_field(api, c, b, "actorId", 1, &bad);
    if (bad)
        goto out;
    r = run(api, c, json_pack("{s:s, s:O, s:O}", "what", "destroy", "a", name, "i", id));
    if (!r)
        goto out;
    int destroyed = json_is_true(json_object_get(r, "destroyed"));
    if (destroyed)
        actors_admin_destroyed(api->actors, json_string_value(name), json_string_value(id),
                               json_string_value(json_object_get(r, "initial")));
    answer(api, c, 200, json_pack("{s:b}", "destroyed", destroyed));
out:
    json_decref(r);
    json_decref(b);
}

/* One destroy of a hot instance with an onDeactivate hook, for destroy-all: 1 destroyed, 0
 * nothing to destroy, -1 failed (appended to `failed` as {actor, actorId, error}). */
static int destroy_one(struct http_api *api, json_t *pair, json_t *failed)
{
    struct buf err = BUF_INIT(64 * 1024), code = BUF_INIT(256);
    json_t *r = NULL;
    json_t *args = json_pack("{s:s, s:O, s:O}", "what", "destroy", "a", json_array_get(pair, 0),
                             "i", json_array_get(pair, 1));
    int rc = actors_admin_run(api->actors, args, &r, &code, &err);
    json_decref(args);
    if (rc < 0) {
        json_array_append_new(failed, json_pack("{s:O, s:O, s:s}", "actor", json_array_get(pair, 0),
                                                "actorId", json_array_get(pair, 1), "error",
                                                err.len ? err.data : "failed"));
    } else if (json_is_true(json_object_get(r, "destroyed"))) {
        actors_admin_destroyed(api->actors, json_string_value(json_array_get(pair, 0)),
                               json_string_value(json_array_get(pair, 1)),
                               json_string_value(json_object_get(r, "initial")));
        rc = 1;
    }
    json_decref(r);
    buf_release(&err);
    buf_release(&code);
    return rc;
}

/* POST /api/admin/actors/destroy-all [{actor}]: bulk calls destroy the instances that run no
 * hook (up to 500 each); the hot ones with an onDeactivate hook are destroyed one per call, so
 * that one that throws fails alone (it is reported in "failed" and skipped). Bounded work per
 * request: "more" says that instances remain. */
static void handle_destroy_all(struct http_api *api, struct conn *c, const struct http_request *req)
{
    int bad = 0, more = 1, singles = 0;
    json_t *b = body_object(api, c, req, 1);
    if (!b)
        return;
    json_t *only = name_field(api, c, b, "actor", 0, &bad);
    json_t *failed = json_array(), *skip = json_array();
    long long total = 0;
    for (int call = 0; !bad && more && call < DESTROY_ALL_CALLS; call++) {
        struct buf err = BUF_INIT(64 * 1024), code = BUF_INIT(256);
        json_t *r = NULL;
        json_t *args =
            json_pack("{s:s, s:O?, s:O}", "what", "destroyAll", "actor", only, "skip", skip);
        int rc = actors_admin_run(api->actors, args, &r, &code, &err);
        json_decref(args);
        if (rc < 0) {
            /* what earlier calls destroyed stays destroyed (their transactions stand) */
            struct buf m = BUF_INIT(BUF_NOLIMIT);
            buf_appendf(&m, "%s (%lld instances were destroyed before this failure)",
                        rc == -2 ? "no app is loaded" : err.data, total);
            fail(api, c, rc == -2 ? 503 : 500,
                 rc == -2   ? "NoAppLoaded"
                 : code.len ? code.data
                            : "InternalError",
                 m.data);
            buf_release(&m);
            bad = 1;
        } else {
            size_t k;
            json_t *it;
            json_array_foreach(json_object_get(r, "items"), k, it)
            {
                actors_admin_destroyed(api->actors, json_string_value(json_array_get(it, 0)),
                                       json_string_value(json_array_get(it, 1)),
                                       json_string_value(json_array_get(it, 2)));
                total++;
            }
            more = json_is_true(json_object_get(r, "more")) ||
                   json_is_true(json_object_get(r, "hookedMore"));
            json_array_foreach(json_object_get(r, "hooked"), k, it)
            {
                if (singles >= DESTROY_ALL_SINGLES ||
                    json_array_size(failed) >= DESTROY_ALL_FAILURES) {
                    more = 1;
                    break;
                }
                singles++;
                int d = destroy_one(api, it, failed);
                if (d > 0)
                    total++;
                else if (d < 0)
                    json_array_append(skip, it);
            }
        }
        json_decref(r);
        buf_release(&err);
        buf_release(&code);
        if (singles >= DESTROY_ALL_SINGLES || json_array_size(failed) >= DESTROY_ALL_FAILURES)
            break;
    }
    if (!bad)
        answer(api, c, 200,
               json_pack("{s:I, s:b, s:O}", "destroyed", (json_int_t)total, "more", more, "failed",
                         failed));
    json_decref(failed);
    json_decref(skip);
    json_decref(b);
}

void http_admin_actors_handle(struct http_api *api, struct conn *c, const struct http_request *req,
                              struct slice rest)
{
    int is_get = slice_eq_str(req->method, "GET") || slice_eq_str(req->method, "HEAD");
    int is_post = slice_eq_str(req->method, "POST");
    if (!http_api_admin_authorized(api, req)) {
        http_api_respond_error(c, 401, "Unauthorized",
                               "the admin API needs \"Authorization: Bearer <admin key>\" (the "
                               "key `vireo admin-key` prints, stored in the app's "
                               ".vireo/admin_key)",
                               NULL);
        return;
    }
    if (!api->actors) {
        http_api_respond_error(c, 404, "NotFound", "this server has no live actors", NULL);
        return;
    }
    int list = rest.len == 0 || slice_eq_str(rest, "/");
    int destroy = slice_eq_str(rest, "/destroy"), destroy_all = slice_eq_str(rest, "/destroy-all");
    const char *slash = rest.len > 1 ? memchr(rest.p + 1, '/', rest.len - 1) : NULL;
    if ((list || slash) && !is_get) {
        http_api_respond_error(c, 405, "MethodNotAllowed", "use GET", NULL);
        return;
    }
    if ((destroy || destroy_all) && !is_post) {
        http_api_respond_error(c, 405, "MethodNotAllowed", "use POST with a JSON body", NULL);
        return;
    }
    if (list) {
        handle_list(api, c, req);
        return;
    }
    if (destroy) {
        handle_destroy(api, c, req);
        return;
    }
    if (destroy_all) {
        handle_destroy_all(api, c, req);
        return;
    }
    json_t *name = NULL, *id = NULL;
    if (slash) {
        const char *p = rest.p + 1, *end = rest.p + rest.len;
        name = decoded_string(p, (size_t)(slash - p), 0, 0);
        id = memchr(slash + 1, '/', (size_t)(end - slash - 1))
                 ? NULL
                 : decoded_string(slash + 1, (size_t)(end - slash - 1), 0, 1);
    }
    if (!name || !id)
        http_api_respond_error(c, 404, "NotFound",
                               "the actor admin routes are GET /api/admin/actors, GET "
                               "/api/admin/actors/<actor>/<actorId> (each percent-encoded), POST "
                               "/api/admin/actors/destroy and POST /api/admin/actors/destroy-all",
                               NULL);
    else
        handle_inspect(api, c, name, id);
    json_decref(name);
    json_decref(id);
}
