/* cmd_data: `vireo data [TABLE] [--limit N] [--order asc|desc] [--format F]`, as `npx convex
 * data`: the tables of a running server's app, or a table's documents (GET /api/admin/data with
 * the admin key), newest first. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_write.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "base/banned.h"

static const char data_usage[] =
    "usage: vireo data [TABLE] [options]\n"
    "\n"
    "Without TABLE, lists the tables of a running server's app (a component's as\n"
    "component/table); with it, prints its documents, newest first.\n"
    "\n"
    "options:\n"
    "  --limit N          at most N documents (1 to 1000; default 100)\n"
    "  --order ORDER      desc (newest first, the default) or asc\n"
    "  --format FORMAT    pretty (a table, the default), jsonLines or jsonArray\n"
    "  --component PATH   TABLE is a table of this component (as `ledger` or `ledger/counter`;\n"
    "                     the same as TABLE given as PATH/TABLE)\n" ADMIN_OPTS_USAGE
    "  -h, --help         show this help\n";

#define CELL_MAX 40 /* a pretty cell's characters at most, as Convex's table */

/* A document's value as one cell: JSON (strings without quotes), cut to CELL_MAX. */
static void cell(struct buf *b, const json_t *v)
{
    buf_reset(b);
    if (!v)
        return;
    if (json_is_string(v))
        buf_append(b, json_string_value(v), json_string_length(v));
    else
        json_write(b, v, 0);
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i] == '\n' || b->data[i] == '\t' || b->data[i] == '\r')
            b->data[i] = ' ';
    if (b->len > CELL_MAX) { /* at a UTF-8 character's start */
        size_t cut = CELL_MAX - 1;
        while (cut && ((unsigned char)b->data[cut] & 0xC0) == 0x80)
            cut--;
        b->len = cut;
        buf_append_str(b, "…");
    }
}

/* Display width of a cell: its UTF-8 characters. */
static size_t width(const struct buf *b)
{
    size_t w = 0;
    for (size_t i = 0; i < b->len; i++)
        w += ((unsigned char)b->data[i] & 0xC0) != 0x80;
    return w;
}

/* The documents as a table: _id, _creationTime, then every other field in first-seen order. */
static void print_pretty(const json_t *docs)
{
    json_t *cols = json_array();
    json_array_append_new(cols, json_string("_id"));
    json_array_append_new(cols, json_string("_creationTime"));
    size_t i, k;
    json_t *d;
    json_array_foreach(docs, i, d)
    {
        const char *key;
        json_t *x;
        json_object_foreach(d, key, x)
        {
            int seen = 0;
            for (k = 0; k < json_array_size(cols); k++)
                seen |= !strcmp(json_string_value(json_array_get(cols, k)), key);
            if (!seen)
                json_array_append_new(cols, json_string(key));
        }
    }
    size_t nc = json_array_size(cols), nr = json_array_size(docs);
    size_t *w = vr_calloc(nc, sizeof *w);
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    for (k = 0; k < nc; k++) {
        w[k] = strlen(json_string_value(json_array_get(cols, k)));
        for (i = 0; i < nr; i++) {
            cell(&b, json_object_get(json_array_get(docs, i),
                                     json_string_value(json_array_get(cols, k))));
            if (width(&b) > w[k])
                w[k] = width(&b);
        }
    }
    for (size_t r = 0; r <= nr; r++) {
        for (k = 0; k < nc; k++) {
            const char *name = json_string_value(json_array_get(cols, k));
            if (r == 0) {
                buf_reset(&b);
                buf_append_str(&b, name);
            } else {
                cell(&b, json_object_get(json_array_get(docs, r - 1), name));
            }
            printf("%.*s%*s", (int)b.len, b.data, k + 1 < nc ? (int)(w[k] - width(&b) + 2) : 0, "");
        }
        putchar('\n');
    }
    buf_release(&b);
    vr_free(w);
    json_decref(cols);
}

int cmd_data(int argc, char **argv)
{
    const char *table = NULL, *limit = NULL, *order = NULL, *format = "pretty";
    const char *component = NULL;
    char qualified[512];
    int r;
    struct admin_opts o;
    admin_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(data_usage, stdout);
            return 0;
        } else if ((r = admin_opts_take(&o, "data", 1, argc, argv, &i)) != 0) {
            if (r < 0)
                return 2;
        } else if (!strcmp(a, "--limit")) {
            if (cli_option_value("data", argc, argv, &i, &limit) < 0)
                return 2;
        } else if (!strcmp(a, "--order")) {
            if (cli_option_value("data", argc, argv, &i, &order) < 0)
                return 2;
        } else if (!strcmp(a, "--format")) {
            if (cli_option_value("data", argc, argv, &i, &format) < 0)
                return 2;
        } else if (!strcmp(a, "--component")) {
            if (cli_option_value("data", argc, argv, &i, &component) < 0)
                return 2;
        } else if (a[0] == '-' || table) {
            fprintf(stderr, "vireo data: unexpected argument '%s' (see vireo data --help)\n", a);
            return 2;
        } else {
            table = a;
        }
    }
    if (strcmp(format, "pretty") && strcmp(format, "jsonLines") && strcmp(format, "jsonArray")) {
        fputs("vireo data: --format must be pretty, jsonLines or jsonArray\n", stderr);
        return 2;
    }
    if (component && !table) {
        fputs("vireo data: --component needs the TABLE to print\n", stderr);
        return 2;
    }
    if (table && !(table = admin_table_name("data", component, table, qualified,
                                            sizeof qualified)))
        return 2;
    if ((limit && strspn(limit, "0123456789") != strlen(limit)) ||
        (order && strcmp(order, "asc") && strcmp(order, "desc"))) {
        fputs("vireo data: --limit takes a number, --order asc or desc\n", stderr);
        return 2;
    }
    char keybuf[65];
    const char *key = admin_find_key("data", o.key, o.dir, keybuf);
    if (!key)
        return 2;
    struct buf endpoint = BUF_INIT(BUF_NOLIMIT), resp = BUF_INIT(64u << 20);
    buf_append_str(&endpoint, "/api/admin/data");
    if (table)
        buf_appendf(&endpoint, "?table=%s%s%s%s%s", table, limit ? "&limit=" : "",
                    limit ? limit : "", order ? "&order=" : "", order ? order : "");
    long status = 0;
    int rc = 1;
    if (admin_get("data", o.url, key, endpoint.data, &resp, &status) < 0)
        goto out;
    json_t *reply = json_loadb(resp.data, resp.len, 0, NULL);
    json_t *value = json_object_get(reply, "value");
    const char *st = json_string_value(json_object_get(reply, "status"));
    if (!st || strcmp(st, "success")) {
        admin_print_refusal("data", o.url, &resp, status);
        json_decref(reply);
        goto out;
    }
    rc = 0;
    if (!table) {
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(value, "tables"), i, t)
        {
            puts(json_string_value(t));
        }
        if (!json_array_size(json_object_get(value, "tables")))
            fputs("vireo data: no tables yet\n", stderr);
        json_decref(reply);
        goto out;
    }
    json_t *docs = json_object_get(value, "documents");
    struct buf line = BUF_INIT(BUF_NOLIMIT);
    if (!strcmp(format, "jsonArray")) {
        json_write(&line, docs, 0);
        printf("%.*s\n", (int)line.len, line.data);
    } else if (!strcmp(format, "jsonLines")) {
        size_t i;
        json_t *d;
        json_array_foreach(docs, i, d)
        {
            buf_reset(&line);
            json_write(&line, d, 0);
            printf("%.*s\n", (int)line.len, line.data);
        }
    } else if (json_array_size(docs)) {
        print_pretty(docs);
    } else {
        fprintf(stderr, "vireo data: `%s` has no documents\n", table);
    }
    if (json_is_true(json_object_get(value, "more")))
        fprintf(stderr, "vireo data: %zu shown; there are more (--limit, up to 1000)\n",
                json_array_size(docs));
    buf_release(&line);
    json_decref(reply);
out:
    buf_release(&endpoint);
    buf_release(&resp);
    return rc;
}
