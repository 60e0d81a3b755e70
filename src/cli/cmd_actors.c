/* cmd_actors: `vireo actors list|inspect|destroy`: a running server's live actor instances
 * through its admin API (/api/admin/actors…, docs/actors.md "Admin"), seed 001's ActorManager
 * `list`, `size`, `destroy` and `destroyAll` from the command line. Human-readable output, or
 * the server's answer as is with --json. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "base/banned.h"

static const char actors_usage[] =
    "usage: vireo actors <command> [arguments] [options]\n"
    "\n"
    "Lists, inspects and destroys the live actor instances of a running server's app.\n"
    "\n"
    "commands:\n"
    "  list                      instances in memory, stored, or with connections, by actor\n"
    "                            then id; the number in memory\n"
    "  inspect ACTOR ID          one instance: its state, whether it is in memory and stored,\n"
    "                            its connections and subscribers\n"
    "  destroy ACTOR ID          run its onDeactivate (if in memory), delete its stored state;\n"
    "                            its state subscribers get the initial state\n"
    "  destroy --all             destroy every instance (with --actor NAME: of that actor)\n"
    "\n"
    "options:\n"
    "  --actor NAME       list, destroy --all: only the instances of actor NAME\n"
    "  --limit N          list: at most N instances (1 to 1000, default 100)\n"
    "  --cursor C         list: the page after the one that printed this cursor\n"
    "  --all              destroy: every instance\n"
    "  --json             print the server's JSON answer\n" ADMIN_OPTS_USAGE
    "  -h, --help         show this help\n";

/* Appends s percent-encoded (RFC 3986 unreserved characters kept). */
static void pct_encode(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            buf_append_byte(b, (char)*p);
        } else {
            buf_append_byte(b, '%');
            buf_append_byte(b, hex[*p >> 4]);
            buf_append_byte(b, hex[*p & 15]);
        }
    }
}

struct actors_cli {
    struct admin_opts o;
    const char *key;
    const char *actor, *limit, *cursor;
    int all, json;
};

/* GET (body NULL) or POST endpoint; the answer parsed into *reply. 0, or 1 after printing why
 * (the server's error, or an unreachable server). */
static int call(const struct actors_cli *a, const char *endpoint, const char *body,
                struct buf *resp, json_t **reply)
{
    long status = 0;
    *reply = NULL;
    int r = body ? admin_post("actors", a->o.url, a->key, endpoint, body, resp, &status)
                 : admin_get("actors", a->o.url, a->key, endpoint, resp, &status);
    if (r < 0)
        return 1;
    *reply = json_loadb(resp->data, resp->len, 0, NULL);
    if (status == 200 && json_is_object(*reply))
        return 0;
    const char *msg = json_string_value(json_object_get(*reply, "errorMessage"));
    const char *code = json_string_value(json_object_get(*reply, "errorCode"));
    if (msg)
        fprintf(stderr, "vireo actors: %s (%s)\n", msg, code ? code : "error");
    else
        fprintf(stderr, "vireo actors: unexpected answer from %s (HTTP %ld): %.200s\n", a->o.url,
                status, resp->data ? resp->data : "");
    json_decref(*reply);
    *reply = NULL;
    return 1;
}

static size_t width(json_t *list, const char *field, size_t min)
{
    size_t i, w = min;
    json_t *x;
    json_array_foreach(list, i, x)
    {
        const char *v = json_string_value(json_object_get(x, field));
        size_t n = v ? strlen(v) : 0;
        if (n > w)
            w = n;
    }
    return w > 60 ? 60 : w;
}

static int do_list(const struct actors_cli *a)
{
    struct buf ep = BUF_INIT(BUF_NOLIMIT), resp = BUF_INIT(64u << 20);
    json_t *reply = NULL;
    char sep = '?';
    buf_append_str(&ep, "/api/admin/actors");
    const char *names[] = {"actor", "limit", "cursor"};
    const char *vals[] = {a->actor, a->limit, a->cursor};
    for (int i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        buf_appendf(&ep, "%c%s=", sep, names[i]);
        pct_encode(&ep, vals[i]);
        sep = '&';
    }
    int rc = call(a, ep.data, NULL, &resp, &reply);
    if (rc == 0 && a->json) {
        printf("%s\n", resp.data);
    } else if (rc == 0) {
        json_t *list = json_object_get(reply, "actors"), *x;
        size_t i, wa = width(list, "actor", 5), wi = width(list, "actorId", 8);
        if (json_array_size(list))
            printf("%-*s  %-*s  %-3s  %11s  %10s  %10s  %s\n", (int)wa, "ACTOR", (int)wi,
                   "ACTOR ID", "HOT", "CONNECTIONS", "STATE SUBS", "EVENT SUBS", "STORED");
        json_array_foreach(list, i, x)
        {
            printf("%-*s  %-*s  %-3s  %11lld  %10lld  %10lld  %s\n", (int)wa,
                   json_string_value(json_object_get(x, "actor")), (int)wi,
                   json_string_value(json_object_get(x, "actorId")),
                   json_is_true(json_object_get(x, "hot")) ? "yes" : "no",
                   (long long)json_integer_value(json_object_get(x, "connections")),
                   (long long)json_integer_value(json_object_get(x, "stateSubscribers")),
                   (long long)json_integer_value(json_object_get(x, "eventSubscribers")),
                   json_is_true(json_object_get(x, "stored")) ? "yes" : "no");
        }
        long long size = json_integer_value(json_object_get(reply, "size"));
        printf("%zu listed; %lld instance%s in memory\n", json_array_size(list), size,
               size == 1 ? "" : "s");
        const char *cur = json_string_value(json_object_get(reply, "cursor"));
        if (cur)
            printf("more: vireo actors list --cursor %s%s%s\n", cur, a->actor ? " --actor " : "",
                   a->actor ? a->actor : "");
    }
    json_decref(reply);
    buf_release(&ep);
    buf_release(&resp);
    return rc;
}

static void print_ids(const char *label, json_t *ids)
{
    size_t i;
    json_t *x;
    printf("%-18s", label);
    if (!json_array_size(ids))
        printf("none");
    json_array_foreach(ids, i, x) printf("%s%s", i ? ", " : "", json_string_value(x));
    putchar('\n');
}

static int do_inspect(const struct actors_cli *a, const char *name, const char *id)
{
    struct buf ep = BUF_INIT(BUF_NOLIMIT), resp = BUF_INIT(64u << 20);
    json_t *reply = NULL;
    buf_append_str(&ep, "/api/admin/actors/");
    pct_encode(&ep, name);
    buf_append_byte(&ep, '/');
    pct_encode(&ep, id);
    int rc = call(a, ep.data, NULL, &resp, &reply);
    if (rc == 0 && a->json) {
        printf("%s\n", resp.data);
    } else if (rc == 0) {
        printf("%s/%s\n", name, id);
        printf("%-18s%s\n",
               "in memory:", json_is_true(json_object_get(reply, "hot")) ? "yes" : "no");
        printf("%-18s%s\n",
               "stored:", json_is_true(json_object_get(reply, "stored")) ? "yes" : "no");
        print_ids("connections:", json_object_get(reply, "connections"));
        print_ids("state subscribers:", json_object_get(reply, "stateSubscribers"));
        print_ids("event subscribers:", json_object_get(reply, "eventSubscribers"));
        char *st = json_dumps(json_object_get(reply, "state"),
                              JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
        printf("state:\n%s\n", st ? st : "null");
        free(st);
    }
    json_decref(reply);
    buf_release(&ep);
    buf_release(&resp);
    return rc;
}

static int do_destroy(const struct actors_cli *a, const char *name, const char *id)
{
    struct buf resp = BUF_INIT(1u << 20);
    json_t *reply = NULL;
    json_t *body = json_pack("{s:s, s:s}", "actor", name, "actorId", id);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = 1;
    if (!text)
        fprintf(stderr, "vireo actors: the actor name and id must be UTF-8\n");
    else
        rc = call(a, "/api/admin/actors/destroy", text, &resp, &reply);
    if (rc == 0 && a->json)
        printf("%s\n", resp.data);
    else if (rc == 0 && json_is_true(json_object_get(reply, "destroyed")))
        printf("destroyed %s/%s\n", name, id);
    else if (rc == 0)
        fprintf(stderr, "%s/%s: nothing to destroy (neither stored nor in memory)\n", name, id);
    free(text);
    json_decref(body);
    json_decref(reply);
    buf_release(&resp);
    return rc;
}

/* The server destroys a bounded number per request and says whether more remain: ask again,
 * until it reports instances it could not destroy (an onDeactivate that throws). */
static int do_destroy_all(const struct actors_cli *a)
{
    json_t *body = a->actor ? json_pack("{s:s}", "actor", a->actor) : json_object();
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    long long total = 0;
    int rc = text ? 0 : 1, more = 1;
    if (!text)
        fprintf(stderr, "vireo actors: the actor name must be UTF-8\n");
    while (rc == 0 && more) {
        struct buf resp = BUF_INIT(1u << 20);
        json_t *reply = NULL;
        rc = call(a, "/api/admin/actors/destroy-all", text, &resp, &reply);
        if (rc == 0) {
            total += json_integer_value(json_object_get(reply, "destroyed"));
            more = json_is_true(json_object_get(reply, "more"));
            if (a->json)
                printf("%s\n", resp.data);
            size_t i;
            json_t *f;
            json_array_foreach(json_object_get(reply, "failed"), i, f)
            {
                fprintf(stderr, "vireo actors: %s/%s was not destroyed: %s\n",
                        json_string_value(json_object_get(f, "actor")),
                        json_string_value(json_object_get(f, "actorId")),
                        json_string_value(json_object_get(f, "error")));
                rc = 1; /* asking again would fail the same way */
            }
        }
        json_decref(reply);
        buf_release(&resp);
    }
    if (!a->json && (rc == 0 || total > 0))
        printf("destroyed %lld instance%s%s%s\n", total, total == 1 ? "" : "s",
               a->actor ? " of " : "", a->actor ? a->actor : "");
    free(text);
    json_decref(body);
    return rc;
}

int cmd_actors(int argc, char **argv)
{
    struct actors_cli a = {0};
    const char *pos[4] = {NULL};
    int npos = 0, r;
    admin_opts_init(&a.o);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            fputs(actors_usage, stdout);
            return 0;
        } else if ((r = admin_opts_take(&a.o, "actors", 1, argc, argv, &i)) != 0) {
            if (r < 0)
                return 2;
        } else if (!strcmp(s, "--actor") || !strcmp(s, "--limit") || !strcmp(s, "--cursor")) {
            const char **slot = s[2] == 'a' ? &a.actor : s[2] == 'l' ? &a.limit : &a.cursor;
            if (cli_option_value("actors", argc, argv, &i, slot) < 0)
                return 2;
        } else if (!strcmp(s, "--all")) {
            a.all = 1;
        } else if (!strcmp(s, "--json")) {
            a.json = 1;
        } else if (!strcmp(s, "--")) {
            while (++i < argc && npos < 3)
                pos[npos++] = argv[i];
            if (i < argc) {
                fprintf(stderr, "vireo actors: unexpected argument '%s'\n", argv[i]);
                return 2;
            }
        } else if (s[0] == '-' && s[1] == '-') {
            fprintf(stderr, "vireo actors: unknown option %s (see vireo actors --help)\n", s);
            return 2;
        } else if (npos < 3) {
            pos[npos++] = s;
        } else {
            fprintf(stderr, "vireo actors: unexpected argument '%s'\n", s);
            return 2;
        }
    }
    const char *cmd = pos[0];
    int is_list = cmd && !strcmp(cmd, "list"), is_inspect = cmd && !strcmp(cmd, "inspect");
    int is_destroy = cmd && !strcmp(cmd, "destroy");
    if (!is_list && !is_inspect && !is_destroy) {
        if (cmd)
            fprintf(stderr, "vireo actors: unknown command '%s'\n\n", cmd);
        fputs(actors_usage, stderr);
        return 2;
    }
    int want = is_list || (is_destroy && a.all) ? 1 : 3;
    if (npos != want || (a.all && !is_destroy) || ((a.limit || a.cursor) && !is_list) ||
        (a.actor && !is_list && !a.all)) {
        fprintf(stderr, "vireo actors: usage: vireo actors %s\n",
                is_list      ? "list [--actor NAME] [--limit N] [--cursor C]"
                : is_inspect ? "inspect ACTOR ID"
                             : "destroy ACTOR ID | destroy --all [--actor NAME]");
        return 2;
    }
    char keybuf[65];
    if (!(a.key = admin_find_key("actors", a.o.key, a.o.dir, keybuf)))
        return 2;
    if (is_list)
        return do_list(&a);
    if (is_inspect)
        return do_inspect(&a, pos[1], pos[2]);
    return a.all ? do_destroy_all(&a) : do_destroy(&a, pos[1], pos[2]);
}
