/* cmd_run: `vireo run <function> [jsonArgs]`: calls any function (internal ones too) through the
 * running server's admin endpoint and prints the JSON result. */
#include <curl/curl.h>
#include <errno.h>
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
    "options:\n"
    "  --url URL          the server (default http://127.0.0.1:8788)\n"
    "  --dir DIR          the app folder whose .vireo/admin_key to use (default .)\n"
    "  --admin-key KEY    the admin key (default: $VIREO_ADMIN_KEY, then DIR/.vireo/admin_key)\n"
    "  -h, --help         show this help\n";

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    return buf_append(b, p, size * n) < 0 ? 0 : size * n;
}

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
    const char *fn = NULL, *args = "{}", *url = "http://127.0.0.1:8788", *dir = ".";
    const char *key = getenv("VIREO_ADMIN_KEY");
    int nargs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(run_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--url") || !strcmp(a, "--dir") || !strcmp(a, "--admin-key")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "vireo run: option %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--url"))
                url = v;
            else if (!strcmp(a, "--dir"))
                dir = v;
            else
                key = v;
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
    char keybuf[65];
    if (!key || !*key) {
        struct app_paths p;
        struct buf err = BUF_INIT(8192);
        int r = app_paths_init(&p, dir) < 0 ? -ENOENT : app_admin_key(&p, 0, keybuf, &err);
        if (r == -ENOENT)
            fprintf(stderr, "vireo run: no admin key: run it in the app folder (it reads "
                            ".vireo/admin_key, written by `vireo dev`), or pass --admin-key\n");
        else if (r < 0)
            fprintf(stderr, "vireo run: %s\n", err.data);
        buf_release(&err);
        if (r < 0) {
            json_decref(jargs);
            return 2;
        }
        key = keybuf;
    }
    json_t *body = json_pack("{s:s, s:O}", "path", fn, "args", jargs);
    char *body_text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_decref(jargs);

    int rc = 1;
    struct buf resp = BUF_INIT(256u << 20);
    char endpoint[4200], auth[200];
    snprintf(endpoint, sizeof endpoint, "%s/api/admin/run", url);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *curl = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, auth);
    curl_easy_setopt(curl, CURLOPT_URL, endpoint);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body_text);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode cr = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (cr != CURLE_OK) {
        fprintf(stderr, "vireo run: cannot reach %s: %s (is `vireo dev` running?)\n", url,
                curl_easy_strerror(cr));
        goto out;
    }
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
        fprintf(stderr, "vireo run: unexpected answer from %s (HTTP %ld): %.200s\n", url, status,
                resp.data);
    }
    json_decref(reply);
out:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    free(body_text);
    buf_release(&resp);
    return rc;
}
