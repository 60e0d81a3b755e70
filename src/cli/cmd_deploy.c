/* cmd_deploy: `vireo deploy [dir] [--url URL] [--bundle FILE]`: pushes a new version of the app
 * to a running server (POST /api/admin/deploy with the admin key), as `npx convex deploy` does:
 * the app folder bundled now, or a file `vireo build` wrote. The server swaps versions only if
 * the new one loads and its schema applies; otherwise it keeps the old one and says why. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "proto/deploy.h"
#include "base/banned.h"

#define BUNDLE_FILE_MAX (256u << 20)

static const char deploy_usage[] =
    "usage: vireo deploy [dir] [options]\n"
    "\n"
    "Pushes a new version of the app to a running server: it loads it, applies its schema (all\n"
    "or nothing) and swaps versions without dropping connections; if the new version fails, the\n"
    "old one keeps serving and the error is printed.\n"
    "\n"
    "options:\n"
    "  --url URL          the server (default http://127.0.0.1:8788)\n"
    "  --bundle FILE      push this file from `vireo build` instead of bundling dir\n"
    "  --admin-key KEY    the admin key (default: $VIREO_ADMIN_KEY, then dir/.vireo/admin_key)\n"
    "  -h, --help         show this help\n";

/* POSTs the bundle file; 0 when the server took it. */
static int push(const char *url, const char *key, const struct buf *file)
{
    int rc = 1;
    struct buf resp = BUF_INIT(16u << 20);
    long status = 0;
    if (admin_post_body("deploy", url, key, "/api/admin/deploy", "text/javascript", file->data,
                        file->len, &resp, &status) < 0) {
        buf_release(&resp);
        return 1;
    }
    json_error_t jerr;
    json_t *reply = json_loadb(resp.data, resp.len, 0, &jerr);
    const char *st = json_string_value(json_object_get(reply, "status"));
    json_t *tenants = json_object_get(reply, "tenants");
    if (st && !strcmp(st, "success") && json_is_integer(tenants)) { /* a --tenants server */
        printf("vireo deploy: %s now serves %s in every tenant (%lld open tenants loaded it; the "
               "others load it when they open)\n",
               url, json_string_value(json_object_get(reply, "name")),
               (long long)json_integer_value(tenants));
        rc = 0;
    } else if (st && !strcmp(st, "success")) {
        printf("vireo deploy: %s now serves %lld functions from %s\n", url,
               (long long)json_integer_value(json_object_get(reply, "functions")),
               json_string_value(json_object_get(reply, "name")));
        rc = 0;
    } else if (st) {
        const char *msg = json_string_value(json_object_get(reply, "errorMessage"));
        const char *code = json_string_value(json_object_get(reply, "errorCode"));
        fprintf(stderr, "vireo deploy: refused (%s, HTTP %ld): %s\n%s", code ? code : "error",
                status, msg ? msg : "",
                status == 400 ? "the server keeps serving its previous version\n" : "");
    } else if (status == 413) {
        fprintf(stderr, "vireo deploy: the bundle (%zu bytes) is larger than the server's "
                        "--max-body (HTTP 413)\n", file->len);
    } else {
        fprintf(stderr, "vireo deploy: unexpected answer from %s (HTTP %ld): %.200s\n", url,
                status, resp.data);
    }
    json_decref(reply);
    buf_release(&resp);
    return rc;
}

int cmd_deploy(int argc, char **argv)
{
    const char *bundle = NULL;
    struct admin_opts o;
    int ndirs = 0, r;
    admin_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(deploy_usage, stdout);
            return 0;
        } else if ((r = admin_opts_take(&o, "deploy", 0, argc, argv, &i)) != 0) {
            if (r < 0)
                return 2;
        } else if (!strcmp(a, "--bundle")) {
            if (cli_option_value("deploy", argc, argv, &i, &bundle) < 0)
                return 2;
        } else if (a[0] == '-') {
            fprintf(stderr, "vireo deploy: unknown option %s (see vireo deploy --help)\n", a);
            return 2;
        } else if (ndirs++) {
            fprintf(stderr, "vireo deploy: unexpected argument '%s'\n", a);
            return 2;
        } else {
            o.dir = a;
        }
    }
    int rc = 1;
    char keybuf[65];
    const char *key;
    struct app_paths p;
    struct buf file = BUF_INIT(BUNDLE_FILE_MAX), err = BUF_INIT(1 << 20);
    int have_paths = app_paths_init(&p, o.dir) == 0;
    if (!(key = admin_find_key("deploy", o.key, o.dir, keybuf))) {
        rc = 2;
        goto out;
    }
    if (bundle) {
        char name[DEPLOY_NAME_MAX];
        size_t off;
        r = read_file(bundle, &file);
        if (r < 0) {
            fprintf(stderr, "vireo deploy: cannot read %s: %s\n", bundle,
                    r == -E2BIG ? "larger than 256 MiB" : strerror(-r));
            goto out;
        }
        if (deploy_parse(file.data, file.len, name, &off, &err) < 0) {
            fprintf(stderr, "vireo deploy: %s: %s\n", bundle, err.data);
            goto out;
        }
    } else if (!have_paths) {
        fprintf(stderr, "vireo deploy: cannot open app folder %s\n", o.dir);
        goto out;
    } else if (app_bundle_file(&p, &file, &err) < 0) {
        fprintf(stderr, "vireo deploy: %s\n", err.data);
        goto out;
    }
    rc = push(o.url, key, &file);
out:
    buf_release(&file);
    buf_release(&err);
    return rc;
}
