/* deploy: bundle files and POST /api/admin/deploy (see deploy.h). A deploy runs on the loop
 * thread like a `vireo dev` reload: shard_load commits the open batch, builds the new runtime
 * beside the old one, applies its schema in one transaction, and swaps only when all of that
 * succeeded; connections and sync sessions stay, live queries re-run on the new code. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/file.h"
#include "base/log.h"
#include "js/runtime.h"
#include "proto/deploy.h"
#include "proto/reply.h"
#include "base/banned.h"

static const char json_ctype[] = "application/json";
static const char cors[] = "Access-Control-Allow-Origin: *\r\n";

void deploy_header(struct buf *out, const char *name)
{
    buf_appendf(out, "%s%s */\n", DEPLOY_MAGIC, name);
}

int deploy_parse(const char *data, size_t len, char name[DEPLOY_NAME_MAX], size_t *js_off,
                 struct buf *err)
{
    size_t m = sizeof DEPLOY_MAGIC - 1;
    if (len < m || memcmp(data, DEPLOY_MAGIC, m) != 0) {
        buf_append_str(err, "not a bundle file of `vireo build` (it starts with \""
                            DEPLOY_MAGIC "...\")");
        return -1;
    }
    size_t i = m, n = 0;
    while (i < len && data[i] > ' ' && data[i] < 0x7f && n < DEPLOY_NAME_MAX - 1)
        name[n++] = data[i++];
    name[n] = '\0';
    static const char tail[] = " */\n";
    if (n == 0 || len - i < sizeof tail - 1 || memcmp(data + i, tail, sizeof tail - 1) != 0) {
        buf_appendf(err, "bundle file: its first line must be \"" DEPLOY_MAGIC
                         "<folder>/ */\" with a folder name of 1 to %d printable characters",
                    DEPLOY_NAME_MAX - 1);
        return -1;
    }
    *js_off = i + sizeof tail - 1;
    return 0;
}

void deploy_save(const char *save_path, const char *file, size_t len)
{
    int r = save_path ? file_write_atomic(save_path, file, len, 0600, 1) : 0;
    if (r < 0)
        log_warn("deploy", "the new version serves, but saving it to \"%s\" failed: %s",
                 save_path, strerror(-r));
    else if (save_path)
        log_info("deploy", "saved to \"%s\" (`vireo serve --bundle` it to restart with it)",
                 save_path);
}

void deploy_answer_loaded(struct shard *s, struct conn *c, const char *file, size_t len,
                          const char *name, const char *save_path)
{
    deploy_save(save_path, file, len);
    if (!c)
        return;
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_appendf(&b, "{\"status\":\"success\",\"functions\":%zu,\"name\":",
                js_runtime_app_function_count(s->rt));
    buf_append_json_str(&b, name, strlen(name));
    buf_append_str(&b, "}");
    http_respond(c, 200, json_ctype, b.data, b.len, cors);
    buf_release(&b);
}

void deploy_answer_error(struct conn *c, int status, const char *code, const char *msg,
                         size_t len)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"status\":\"error\",");
    reply_error_fields(&b, code, msg, len, NULL, 0);
    buf_append_str(&b, "}");
    http_respond(c, status, json_ctype, b.data, b.len, cors);
    buf_release(&b);
}

static void respond_error(struct conn *c, const char *code, const char *msg, size_t len)
{
    deploy_answer_error(c, 400, code, msg, len);
}

void deploy_handle(struct shard *s, struct conn *c, const struct http_request *req,
                   const char *save_path)
{
    char name[DEPLOY_NAME_MAX];
    size_t off = 0;
    struct buf err = BUF_INIT(1 << 20);
    if (deploy_parse(req->body.p, req->body.len, name, &off, &err) < 0) {
        log_warn("deploy", "refused: %s", err.data);
        respond_error(c, "BadBundle", err.data, err.len);
        goto out;
    }
    log_info("deploy", "loading a bundle of %zu bytes for \"%s\"", req->body.len - off, name);
    if (shard_load(s, req->body.p + off, req->body.len - off, name, &err) < 0) {
        log_error("deploy", "%s\n(the previous version keeps running)", err.data);
        respond_error(c, "DeployFailed", err.data, err.len);
        goto out;
    }
    deploy_answer_loaded(s, c, req->body.p, req->body.len, name, save_path);
out:
    buf_release(&err);
}
