/* http_admin_env: list, get, set and remove environment variables over HTTP (admin key). A set
 * or remove stores the change in the shard's database and reloads the running version, so that
 * process.env of every function (actions' workers too) shows it; a reload that fails leaves the
 * old version serving, and the answer says so in "reloadError". The reload is built off the
 * loop (env_reloader.h: the deployer, or the tenant registry) and answered when it serves; one
 * while another version loads runs on the loop (shard_reload). */
#include "proto/http_admin_env.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "proto/reply.h"
#include "base/banned.h"

static const char content_json[] = "application/json";
static const char cors[] = "Access-Control-Allow-Origin: *\r\n";

static void respond(struct conn *c, int status, struct buf *b)
{
    http_respond(c, status, content_json, b->data, b->len, cors);
}

static void respond_error(struct conn *c, int status, const char *code, const char *msg)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"status\":\"error\",");
    reply_error_fields(&b, code, msg, strlen(msg), NULL, 0);
    buf_append_byte(&b, '}');
    respond(c, status, &b);
    buf_release(&b);
}

/* {"status":"success","value":<value>} (value taken over), plus "reloadError" when a reload
 * after the change failed. */
static void respond_value(struct conn *c, json_t *value, const struct buf *load_err)
{
    json_t *o = json_pack("{s:s, s:o}", "status", "success", "value", value ? value : json_null());
    if (load_err && load_err->len)
        json_object_set_new(o, "reloadError", json_stringn(load_err->data, load_err->len));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    if (text)
        buf_append_str(&b, text);
    free(text);
    respond(c, 200, &b);
    buf_release(&b);
}

/* The body's string field `key` (a copy's view into root); NULL and an answer sent if missing. */
static const char *string_field(struct conn *c, json_t *root, const char *key, size_t *len)
{
    json_t *v = json_object_get(root, key);
    if (!json_is_string(v)) {
        char msg[160];
        snprintf(msg, sizeof msg, "the body needs \"%s\": a string", key);
        respond_error(c, 400, "InvalidArgument", msg);
        return NULL;
    }
    *len = json_string_length(v);
    return json_string_value(v);
}

/* env_reloader's answer: value is the request's JSON value, taken over. */
static void reloaded(struct conn *c, void *arg, const char *load_err)
{
    json_t *value = arg;
    if (conn_is_closed(c)) {
        json_decref(value);
        return;
    }
    struct buf e = BUF_INIT(64 * 1024);
    if (load_err)
        buf_append_str(&e, load_err);
    respond_value(c, value, &e);
    buf_release(&e);
}

/* Answers a stored change: after a reload off the loop when rl takes it, else now (load_err:
 * the loop's reload, done by shard_env_*). value taken over. */
static void answer_change(const struct env_reloader *rl, struct conn *c, json_t *value,
                          int deferred, const struct buf *load_err)
{
    if (deferred && rl->reload(rl->impl, c, reloaded, value) == 0)
        return;
    respond_value(c, value, load_err);
}

void http_admin_env_handle(struct shard *shard, const struct env_reloader *rl, struct conn *c,
                           const struct http_request *req, struct slice op)
{
    struct buf err = BUF_INIT(4096), load_err = BUF_INIT(64 * 1024);
    json_t *root = NULL;
    json_error_t jerr;
    const char *name = NULL, *value = NULL;
    size_t name_len = 0, value_len = 0;
    int is_list = slice_eq_str(op, "/list"), is_get = slice_eq_str(op, "/get");
    int is_set = slice_eq_str(op, "/set"), is_remove = slice_eq_str(op, "/remove");

    if (!is_list && !is_get && !is_set && !is_remove) {
        respond_error(c, 404, "NotFound",
                      "no such endpoint: use /api/admin/env/list, /get, /set or /remove");
        goto out;
    }
    root = req->body.len ? json_loadb(req->body.p, req->body.len,
                                      JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr)
                         : json_object();
    if (!json_is_object(root)) {
        /* jerr.text may quote the body, which may hold a value: say where, not what */
        char msg[160];
        snprintf(msg, sizeof msg, "the body must be a JSON object%s (line %d, column %d)",
                 root ? "" : ": malformed JSON", root ? 0 : jerr.line, root ? 0 : jerr.column);
        respond_error(c, 400, "BadJsonBody", msg);
        goto out;
    }
    if (!is_list && !(name = string_field(c, root, "name", &name_len)))
        goto out;
    if (is_set && !(value = string_field(c, root, "value", &value_len)))
        goto out;
    if (name && store_env_check_name(name, name_len, &err) < 0) {
        respond_error(c, 400, "InvalidEnvVarName", err.data);
        goto out;
    }
    if (is_list || is_get) {
        json_t *env = NULL; /* what `vireo env` set: not .env.local's */
        if (store_env_list(shard->store, &env, &err) < 0) {
            respond_error(c, 500, "StoreError", err.data);
            goto out;
        }
        if (is_list) {
            respond_value(c, env, NULL);
            goto out;
        }
        json_t *v = json_object_getn(env, name, name_len);
        if (!v) {
            buf_reset(&err);
            buf_appendf(&err, "environment variable `%.*s` is not set", (int)name_len, name);
            respond_error(c, 404, "EnvVarNotFound", err.data);
        } else {
            respond_value(c, json_incref(v), NULL);
        }
        json_decref(env);
        goto out;
    }
    /* the reload goes off the loop when rl takes it; else shard_env_* reload on the loop */
    int deferred = rl->impl && !rl->busy(rl->impl);
    struct buf *le = deferred ? NULL : &load_err;
    if (is_set) {
        int r = shard_env_set(shard, name, name_len, value, value_len, &err, le);
        if (r < 0) {
            const char *code = r == -E2BIG    ? "EnvVarValueTooLarge"
                               : r == -ENOSPC ? "TooManyEnvVars"
                               : r == -EINVAL ? "InvalidEnvVarValue"
                                              : "StoreError";
            respond_error(c, r == -EIO ? 500 : 400, code, err.data);
            goto out;
        }
        answer_change(rl, c, json_null(), deferred, &load_err);
        goto out;
    }
    int removed = 0;
    if (shard_env_remove(shard, name, name_len, &removed, &err, le) < 0) {
        respond_error(c, 500, "StoreError", err.data);
        goto out;
    }
    answer_change(rl, c, json_boolean(removed), deferred && removed, &load_err);
out:
    json_decref(root);
    buf_release(&err);
    buf_release(&load_err);
}
