/* cmd_env: `vireo env set|get|list|remove`: the deployment's environment variables
 * (process.env in functions), through a running server's admin API (/api/admin/env/...), as
 * `npx convex env` does for Convex. The server stores them in the shard's database and reloads
 * the app with them. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "base/banned.h"

static const char env_usage[] =
    "usage: vireo env <command> [arguments] [options]\n"
    "\n"
    "Reads and changes the environment variables of a running server's app (process.env in\n"
    "its functions). A change is stored in the app's database, kept across restarts, and\n"
    "reloads the app's functions with the new values.\n"
    "\n"
    "commands:\n"
    "  set NAME [VALUE]   set NAME (VALUE read from stdin when not given)\n"
    "  get NAME           print NAME's value\n"
    "  list               print every variable as NAME=value\n"
    "  remove NAME        remove NAME\n"
    "\n"
    "Names start with a letter and hold letters, digits and underscores (at most 40); values\n"
    "are at most 8 KiB; an app has at most 100 variables.\n"
    "\n"
    "options:\n" ADMIN_OPTS_USAGE
    "  -h, --help         show this help\n";

#define VALUE_READ_MAX (8192 + 2) /* one past the server's limit, so that it names the limit */

/* Reads a value from stdin, without one trailing newline. */
static int read_stdin_value(struct buf *out)
{
    char chunk[4096];
    ssize_t n;
    while ((n = read(0, chunk, sizeof chunk)) > 0) {
        if (out->len + (size_t)n > VALUE_READ_MAX)
            n = (ssize_t)(VALUE_READ_MAX - out->len);
        buf_append(out, chunk, (size_t)n);
        if (out->len >= VALUE_READ_MAX)
            break;
    }
    if (n < 0)
        return -1;
    if (out->len && out->data[out->len - 1] == '\n')
        out->data[--out->len] = '\0';
    if (out->len && out->data[out->len - 1] == '\r')
        out->data[--out->len] = '\0';
    return 0;
}

int cmd_env(int argc, char **argv)
{
    struct admin_opts o;
    const char *pos[4] = { NULL };
    int npos = 0, r;
    admin_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(env_usage, stdout);
            return 0;
        } else if ((r = admin_opts_take(&o, "env", 1, argc, argv, &i)) != 0) {
            if (r < 0)
                return 2;
        } else if (a[0] == '-' && a[1] == '-' && npos < 3) {
            /* a value may start with "--" only after the name: `vireo env set X -- --v` */
            if (!strcmp(a, "--") && i + 1 < argc && npos >= 2) {
                pos[npos++] = argv[++i];
                continue;
            }
            fprintf(stderr, "vireo env: unknown option %s (see vireo env --help)\n", a);
            return 2;
        } else if (npos < 3) {
            pos[npos++] = a;
        } else {
            fprintf(stderr, "vireo env: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    const char *cmd = pos[0];
    int is_set = cmd && !strcmp(cmd, "set"), is_get = cmd && !strcmp(cmd, "get");
    int is_list = cmd && !strcmp(cmd, "list");
    int is_remove = cmd && (!strcmp(cmd, "remove") || !strcmp(cmd, "unset"));
    if (!cmd || (!is_set && !is_get && !is_list && !is_remove)) {
        if (cmd)
            fprintf(stderr, "vireo env: unknown command '%s'\n\n", cmd);
        fputs(env_usage, stderr);
        return 2;
    }
    int want = is_list ? 1 : 2;
    if (npos < want || npos > (is_set ? 3 : want)) {
        fprintf(stderr, "vireo env: usage: vireo env %s%s\n", cmd,
                is_list ? "" : is_set ? " NAME [VALUE]" : " NAME");
        return 2;
    }

    char keybuf[65];
    const char *key = admin_find_key("env", o.key, o.dir, keybuf);
    if (!key)
        return 2;
    int rc = 1;
    long status = 0;
    struct buf value = BUF_INIT(BUF_NOLIMIT), resp = BUF_INIT(16u << 20);
    json_t *body = json_object(), *reply = NULL;
    char *body_text = NULL;
    if (!is_list)
        json_object_set_new(body, "name", json_string(pos[1]));
    if (is_set) {
        if (npos == 3) {
            buf_append_str(&value, pos[2]);
        } else if (read_stdin_value(&value) < 0) {
            fprintf(stderr, "vireo env: cannot read the value from stdin\n");
            goto out;
        }
        json_object_set_new(body, "value", json_stringn(value.data, value.len));
    }
    if (!is_list && !json_object_get(body, "name")) {
        fprintf(stderr, "vireo env: the name is not valid UTF-8\n");
        goto out;
    }
    if (is_set && !json_object_get(body, "value")) {
        fprintf(stderr, "vireo env: the value is not valid UTF-8\n");
        goto out;
    }
    body_text = json_dumps(body, JSON_COMPACT);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "/api/admin/env/%s", is_remove ? "remove" : cmd);
    if (admin_post("env", o.url, key, endpoint, body_text, &resp, &status) < 0)
        goto out;
    json_error_t jerr;
    reply = json_loadb(resp.data, resp.len, 0, &jerr);
    const char *st = json_string_value(json_object_get(reply, "status"));
    json_t *v = json_object_get(reply, "value");
    if (!st) {
        fprintf(stderr, "vireo env: unexpected answer from %s (HTTP %ld): %.200s\n", o.url, status,
                resp.data);
        goto out;
    }
    if (strcmp(st, "success")) {
        const char *msg = json_string_value(json_object_get(reply, "errorMessage"));
        const char *code = json_string_value(json_object_get(reply, "errorCode"));
        if (code && !strcmp(code, "EnvVarNotFound"))
            fprintf(stderr, "Environment variable '%s' not found.\n", pos[1]);
        else
            fprintf(stderr, "vireo env %s: %s (%s)\n", cmd, msg ? msg : "failed",
                    code ? code : "error");
        goto out;
    }
    rc = 0;
    if (is_list) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) printf("%s=%s\n", k, json_string_value(x));
    } else if (is_get) {
        printf("%s\n", json_string_value(v));
    } else if (is_set) {
        fprintf(stderr, "✔ Successfully set %s\n", pos[1]);
    } else if (json_is_true(v)) {
        fprintf(stderr, "✔ Successfully unset %s\n", pos[1]);
    } else {
        fprintf(stderr, "Environment variable '%s' not found.\n", pos[1]);
    }
    const char *load_err = json_string_value(json_object_get(reply, "reloadError"));
    if (load_err) {
        fprintf(stderr, "vireo env: the app failed to reload with the change (the previous version "
                        "keeps running):\n%s\n", load_err);
        rc = 1;
    }
out:
    json_decref(body);
    json_decref(reply);
    free(body_text);
    buf_release(&value);
    buf_release(&resp);
    return rc;
}
