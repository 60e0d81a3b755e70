/* admin_client: what the commands that talk to a running server share (`vireo run`, `vireo
 * env`, `vireo deploy`, `vireo actors`): their --url, --dir and --admin-key options, finding the
 * admin key (--admin-key, $VIREO_ADMIN_KEY, then DIR/.vireo/admin_key) and one POST of a body
 * (or one GET) to an admin endpoint with it. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"
#include "base/banned.h"

const char *admin_table_name(const char *cmd, const char *component, const char *table,
                             char *buf, size_t cap)
{
    if (component) {
        int n = snprintf(buf, cap, "%s/%s", component, table);
        table = n >= 0 && (size_t)n < cap ? buf : NULL;
    }
    if (!table || !store_table_name_ok(table, strlen(table))) {
        fprintf(stderr,
                "vireo %s: `%s%s%s` is not a table name (letters, digits and _; a component's "
                "table as component/table)\n",
                cmd, component ? component : "", component ? "/" : "", table ? table : "");
        return NULL;
    }
    return table;
}

int cli_option_value(const char *cmd, int argc, char **argv, int *i, const char **value)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "vireo %s: option %s needs a value\n", cmd, argv[*i]);
        return -1;
    }
    *value = argv[++*i];
    return 0;
}

void admin_opts_init(struct admin_opts *o)
{
    o->url = "http://127.0.0.1:8788";
    o->dir = ".";
    o->key = getenv("VIREO_ADMIN_KEY");
}

int admin_opts_take(struct admin_opts *o, const char *cmd, int with_dir, int argc, char **argv,
                    int *i)
{
    const char *a = argv[*i];
    const char **slot = !strcmp(a, "--url")                 ? &o->url
                        : !strcmp(a, "--admin-key")         ? &o->key
                        : with_dir && !strcmp(a, "--dir") ? &o->dir
                                                            : NULL;
    if (!slot)
        return 0;
    return cli_option_value(cmd, argc, argv, i, slot) < 0 ? -1 : 1;
}

const char *admin_find_key(const char *cmd, const char *key, const char *dir, char out[65])
{
    if (key && *key)
        return key;
    struct app_paths p;
    struct buf err = BUF_INIT(8192);
    int r = app_paths_init(&p, dir) < 0 ? -ENOENT : app_admin_key(&p, 0, out, &err);
    if (r == -ENOENT)
        fprintf(stderr, "vireo %s: no admin key: run it in the app folder (it reads "
                        ".vireo/admin_key, written by `vireo dev`), or pass --admin-key\n",
                cmd);
    else if (r < 0)
        fprintf(stderr, "vireo %s: %s\n", cmd, err.data);
    buf_release(&err);
    return r < 0 ? NULL : out;
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    return buf_append(b, p, size * n) < 0 ? 0 : size * n;
}

/* An answer written to a file when it is a 200, else collected (admin_get_file). */
struct to_file {
    CURL *curl;
    FILE *out;
    struct buf *resp;
    uint64_t written;
    int failed; /* errno of a failed write, or 0 */
};

static size_t to_file(char *p, size_t size, size_t n, void *arg)
{
    struct to_file *t = arg;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        return collect(p, size, n, t->resp);
    if (fwrite(p, size, n, t->out) != n) {
        t->failed = errno ? errno : EIO;
        return 0;
    }
    t->written += size * n;
    return size * n;
}

static size_t from_file(char *p, size_t size, size_t n, void *arg)
{
    return fread(p, size, n, arg) * size; /* 0 at the end (a read error too: curl then fails) */
}

/* One request with the admin key: a POST of (body, len) or of `len` bytes read from `in`, or a
 * GET when both are NULL; the answer goes to resp, or through tf when given. */
static int admin_request_to(const char *cmd, const char *url, const char *key, const char *endpoint,
                            const char *content_type, const char *body, size_t len,
                            struct buf *resp, long *status, struct to_file *tf, FILE *in)
{
    char target[4200], auth[200], ctype[200];
    snprintf(target, sizeof target, "%s%s", url, endpoint);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    snprintf(ctype, sizeof ctype, "Content-Type: %s", content_type);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *curl = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, ctype);
    hdrs = curl_slist_append(hdrs, auth);
    curl_easy_setopt(curl, CURLOPT_URL, target);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (in) { /* streamed from the file, with its length declared */
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, from_file);
        curl_easy_setopt(curl, CURLOPT_READDATA, in);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (tf) {
        tf->curl = curl;
        tf->resp = resp;
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, to_file);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, tf);
    } else {
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
    }
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode cr = curl_easy_perform(curl);
    *status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    if (tf && tf->failed)
        fprintf(stderr, "vireo %s: cannot write the answer: %s\n", cmd, strerror(tf->failed));
    else if (cr != CURLE_OK)
        fprintf(stderr, "vireo %s: cannot reach %s: %s (is `vireo dev` running?)\n", cmd, url,
                curl_easy_strerror(cr));
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return cr == CURLE_OK ? 0 : -1;
}

static int admin_request(const char *cmd, const char *url, const char *key, const char *endpoint,
                         const char *content_type, const char *body, size_t len, struct buf *resp,
                         long *status)
{
    return admin_request_to(cmd, url, key, endpoint, content_type, body, len, resp, status, NULL,
                            NULL);
}

int admin_get_file(const char *cmd, const char *url, const char *key, const char *endpoint,
                   FILE *out, uint64_t *written, struct buf *resp, long *status)
{
    struct to_file tf = {.out = out};
    int r = admin_request_to(cmd, url, key, endpoint, "application/json", NULL, 0, resp, status,
                             &tf, NULL);
    *written = tf.written;
    return r;
}

int admin_post_body(const char *cmd, const char *url, const char *key, const char *endpoint,
                    const char *content_type, const char *body, size_t len, struct buf *resp,
                    long *status)
{
    return admin_request(cmd, url, key, endpoint, content_type, body, len, resp, status);
}

int admin_get(const char *cmd, const char *url, const char *key, const char *endpoint,
              struct buf *resp, long *status)
{
    return admin_request(cmd, url, key, endpoint, "application/json", NULL, 0, resp, status);
}

int admin_post(const char *cmd, const char *url, const char *key, const char *endpoint,
               const char *body, struct buf *resp, long *status)
{
    return admin_post_body(cmd, url, key, endpoint, "application/json", body, strlen(body), resp,
                           status);
}

void admin_print_refusal(const char *cmd, const char *url, const struct buf *resp, long status)
{
    json_t *reply = json_loadb(resp->data, resp->len, 0, NULL);
    const char *msg = json_string_value(json_object_get(reply, "errorMessage"));
    const char *code = json_string_value(json_object_get(reply, "errorCode"));
    if (msg)
        fprintf(stderr, "vireo %s: refused (%s, HTTP %ld): %s\n", cmd, code ? code : "error",
                status, msg);
    else
        fprintf(stderr, "vireo %s: unexpected answer from %s (HTTP %ld): %.200s\n", cmd, url,
                status, resp->data);
    json_decref(reply);
}

int admin_post_file(const char *cmd, const char *url, const char *key, const char *endpoint,
                    const char *content_type, FILE *in, uint64_t len, struct buf *resp,
                    long *status)
{
    return admin_request_to(cmd, url, key, endpoint, content_type, NULL, (size_t)len, resp, status,
                            NULL, in);
}
