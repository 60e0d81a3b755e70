/* cmd_run: `vireo run <function> [jsonArgs]`: calls any function (internal ones too) through the
 * running server's admin endpoint and prints the JSON result. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "base/banned.h"

static const char run_usage[] =
    "usage: vireo run <function> [jsonArgs] [options]\n"
    "\n"
    "Calls a query, mutation or action (internal ones too) on a running server and prints its\n"
    "JSON result, e.g. vireo run tasks:create '{\"title\":\"Buy milk\"}'.\n"
    "\n"
    "options:\n" ADMIN_OPTS_USAGE
    "  --component PATH   a component's function: PATH as in convex.config (\"ledger\", or\n"
    "                     \"parent/child\"), the function named as the component names it\n"
    "  --identity JSON    run as this user identity (ctx.auth.getUserIdentity()), e.g.\n"
    "                     '{\"subject\":\"u1\",\"issuer\":\"https://idp\",\"name\":\"Ann\"}'\n"
    "  -h, --help         show this help\n";

/* Re-indents JSON text without reparsing its numbers, so values print exactly as sent. */
static void print_pretty(const char *p, size_t n)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            putchar(c);
            if (c == '\\' && i + 1 < n)
                putchar(p[++i]);
            else if (c == '"')
                in_str = 0;
            continue;
        }
        switch (c) {
        case '"':
            in_str = 1;
            putchar(c);
            break;
        case '{':
        case '[':
            if (i + 1 < n && (p[i + 1] == '}' || p[i + 1] == ']')) {
                putchar(c);
                putchar(p[++i]);
                break;
            }
            printf("%c\n%*s", c, 2 * ++depth, "");
            break;
        case '}':
        case ']':
            printf("\n%*s%c", 2 * --depth, "", c);
            break;
        case ',':
            printf(",\n%*s", 2 * depth, "");
            break;
        case ':':
            fputs(": ", stdout);
            break;
        default:
            putchar(c);
        }
    }
    putchar('\n');
}

int cmd_run(int argc, char **argv)
{
    const char *fn = NULL, *args = "{}", *component = NULL, *identity = NULL;
    struct admin_opts o;
    int nargs = 0, r;
    admin_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(run_usage, stdout);
            return 0;
        } else if ((r = admin_opts_take(&o, "run", 1, argc, argv, &i)) != 0) {
            if (r < 0)
                return 2;
        } else if (!strcmp(a, "--component")) {
            if (cli_option_value("run", argc, argv, &i, &component) < 0)
                return 2;
        } else if (!strcmp(a, "--identity")) {
            if (cli_option_value("run", argc, argv, &i, &identity) < 0)
                return 2;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "vireo run: unknown option %s (see vireo run --help)\n", a);
            return 2;
        } else if (nargs == 0) {
            fn = a;
            nargs++;
        } else if (nargs == 1) {
            args = a;
            nargs++;
        } else {
            fprintf(stderr, "vireo run: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!fn) {
        fputs(run_usage, stderr);
        return 2;
    }
    json_error_t jerr;
    json_t *jargs = json_loads(args, JSON_DECODE_INT_AS_REAL, &jerr);
    if (!jargs || !json_is_object(jargs)) {
        fprintf(stderr, "vireo run: arguments must be a JSON object%s%s\n", jargs ? "" : ": ",
                jargs ? "" : jerr.text);
        json_decref(jargs);
        return 2;
    }
    /* json_is_object is a macro that reads its argument twice: the load goes first */
    json_t *jid = identity ? json_loads(identity, JSON_DECODE_INT_AS_REAL, &jerr) : NULL;
    if (identity && !json_is_object(jid)) {
        fprintf(stderr, "vireo run: --identity must be a JSON object%s%s\n", jid ? "" : ": ",
                jid ? "" : jerr.text);
        json_decref(jid);
        json_decref(jargs);
        return 2;
    }
    char keybuf[65];
    const char *key = admin_find_key("run", o.key, o.dir, keybuf);
    if (!key) {
        json_decref(jid);
        json_decref(jargs);
        return 2;
    }
    json_t *body = json_pack("{s:s, s:O}", "path", fn, "args", jargs);
    if (component)
        json_object_set_new(body, "componentPath", json_string(component));
    if (jid)
        json_object_set_new(body, "identity", jid);
    char *body_text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_decref(jargs);

    int rc = 1;
    long status = 0;
    struct buf resp = BUF_INIT(256u << 20);
    if (admin_post("run", o.url, key, "/api/admin/run", body_text, &resp, &status) < 0)
        goto out;
    json_t *reply = json_loadb(resp.data, resp.len, JSON_DECODE_INT_AS_REAL, &jerr);
    const char *st = json_string_value(json_object_get(reply, "status"));
    if (st && !strcmp(st, "success")) {
        /* Print the value exactly as the server wrote it: the text between "value": and the
         * trailing ,"version":N}. */
        const char *v = strstr(resp.data, "\"value\":");
        const char *end = strrchr(resp.data, ',');
        if (v && end && end > v)
            print_pretty(v + 8, (size_t)(end - v - 8));
        rc = 0;
    } else if (st) {
        const char *msg = json_string_value(json_object_get(reply, "errorMessage"));
        const char *code = json_string_value(json_object_get(reply, "errorCode"));
        fprintf(stderr, "vireo run: %s failed (%s): %s\n", fn, code ? code : "error",
                msg ? msg : "");
    } else {
        fprintf(stderr, "vireo run: unexpected answer from %s (HTTP %ld): %.200s\n", o.url, status,
                resp.data);
    }
    json_decref(reply);
out:
    free(body_text);
    buf_release(&resp);
    return rc;
}
