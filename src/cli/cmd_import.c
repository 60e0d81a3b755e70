/* cmd_import: `vireo import [--table T] [--append|--replace|--replace-all] PATH`, as
 * `npx convex import` does: a JSON Lines, JSON array or CSV file into one table, or a ZIP
 * snapshot (Convex's export, its tables and stored files) into the tables it names, sent to a
 * running server (POST /api/admin/import with the admin key), which stores all of it in one
 * transaction or none of it. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "proto/import_parse.h"
#include "base/banned.h"


static const char import_usage[] =
    "usage: vireo import [options] PATH\n"
    "\n"
    "Imports data into a running server's tables, all of it in one transaction or none of it:\n"
    "  vireo import --table messages data.jsonl   one table from a .jsonl, .json or .csv file\n"
    "  vireo import snapshot.zip                  the tables (and stored files) of a snapshot\n"
    "Documents keep their _id when it is an id of their table on this server, and their\n"
    "_creationTime; other ids (a Convex export's) are replaced, and every reference to them in\n"
    "the imported documents is rewritten. A table that already has documents refuses the\n"
    "import unless --append or --replace says what to do with them.\n"
    "\n"
    "options:\n"
    "  --table TABLE      the destination table (a .jsonl, .json or .csv file; not a ZIP)\n"
    "  --component PATH   TABLE is a table of this component (as `ledger` or\n"
    "                     `ledger/counter`; the same as TABLE given as PATH/TABLE)\n"
    "  --format FORMAT    csv, jsonLines, jsonArray or zip (default: from PATH's extension)\n"
    "  --append           add to the tables' existing documents\n"
    "  --replace          delete the imported tables' documents first\n"
    "  --replace-all      delete every table's documents first\n"
    "  -y, --yes          do not ask before --replace or --replace-all deletes "
    "documents\n" ADMIN_OPTS_USAGE "  -h, --help         show this help\n";

static const char *format_name(enum import_format f)
{
    switch (f) {
    case IMPORT_JSONL:
        return "jsonl";
    case IMPORT_JSON_ARRAY:
        return "json";
    case IMPORT_CSV:
        return "csv";
    default:
        return "zip";
    }
}

/* Prints what the server did; 0 when it stored the import. */
static int report(const char *url, const char *path, const struct buf *resp, long status,
                  size_t sent)
{
    json_t *reply = json_loadb(resp->data, resp->len, 0, NULL);
    const char *st = json_string_value(json_object_get(reply, "status"));
    int rc = 1;
    if (st && !strcmp(st, "success")) {
        json_t *tables = json_object_get(json_object_get(reply, "value"), "tables");
        const char *name;
        json_t *t;
        json_object_foreach(tables, name, t)
        {
            long long added = json_integer_value(json_object_get(t, "imported"));
            long long deleted = json_integer_value(json_object_get(t, "deleted"));
            printf("vireo import: %s: %lld added", name, added);
            if (deleted)
                printf(", %lld deleted", deleted);
            putchar('\n');
        }
        printf("vireo import: %s imported into %s\n", path, url);
        rc = 0;
    } else if (st) {
        const char *msg = json_string_value(json_object_get(reply, "errorMessage"));
        const char *code = json_string_value(json_object_get(reply, "errorCode"));
        fprintf(stderr, "vireo import: refused (%s, HTTP %ld): %s\nnothing was imported\n",
                code ? code : "error", status, msg ? msg : "");
    } else if (status == 413) {
        fprintf(stderr,
                "vireo import: %s (%zu bytes) is larger than the server's --max-body (HTTP "
                "413); nothing was imported\n",
                path, sent);
    } else {
        fprintf(stderr, "vireo import: unexpected answer from %s (HTTP %ld): %.200s\n", url, status,
                resp->data);
    }
    json_decref(reply);
    return rc;
}

/* Asks before a replace deletes documents; 1 to go on. */
static int confirm(const char *mode)
{
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr,
                "vireo import: --%s deletes existing documents; pass -y to confirm (stdin is not "
                "a terminal to ask on)\n",
                mode);
        return 0;
    }
    fprintf(stderr, "vireo import: --%s deletes the existing documents of %s. Continue? [y/N] ",
            mode, strcmp(mode, "replace") ? "every table" : "the imported tables");
    char line[16];
    if (!fgets(line, sizeof line, stdin))
        return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

int cmd_import(int argc, char **argv)
{
    const char *table = NULL, *format = NULL, *path = NULL, *mode = NULL, *component = NULL;
    char qualified[512];
    int yes = 0, r;
    struct admin_opts o;
    admin_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(import_usage, stdout);
            return 0;
        } else if ((r = admin_opts_take(&o, "import", 1, argc, argv, &i)) != 0) {
            if (r < 0)
                return 2;
        } else if (!strcmp(a, "--table")) {
            if (cli_option_value("import", argc, argv, &i, &table) < 0)
                return 2;
        } else if (!strcmp(a, "--format")) {
            if (cli_option_value("import", argc, argv, &i, &format) < 0)
                return 2;
        } else if (!strcmp(a, "--component")) {
            if (cli_option_value("import", argc, argv, &i, &component) < 0)
                return 2;
        } else if (!strcmp(a, "--append") || !strcmp(a, "--replace") ||
                   !strcmp(a, "--replace-all")) {
            if (mode) {
                fprintf(stderr, "vireo import: %s and --%s: choose one\n", a, mode);
                return 2;
            }
            mode = a + 2;
        } else if (!strcmp(a, "-y") || !strcmp(a, "--yes")) {
            yes = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "vireo import: unknown option %s (see vireo import --help)\n", a);
            return 2;
        } else if (path) {
            fprintf(stderr, "vireo import: unexpected argument '%s'\n", a);
            return 2;
        } else {
            path = a;
        }
    }
    if (!path) {
        fputs(import_usage, stderr);
        return 2;
    }
    enum import_format fmt;
    if (format ? import_format_parse(format, strlen(format), &fmt) < 0
               : import_format_of_path(path, &fmt) < 0) {
        fprintf(stderr,
                format ? "vireo import: --format must be csv, jsonLines, jsonArray or zip\n"
                       : "vireo import: cannot tell the format of %s from its name: pass "
                         "--format csv, jsonLines, jsonArray or zip\n",
                path);
        return 2;
    }
    if (component && !table) {
        fprintf(stderr, "vireo import: --component needs --table (a ZIP names its components' "
                        "tables itself)\n");
        return 2;
    }
    if (fmt == IMPORT_ZIP && table) {
        fprintf(stderr, "vireo import: --table is not supported for a ZIP import: the ZIP names "
                        "its tables\n");
        return 2;
    }
    if (fmt != IMPORT_ZIP && !table) {
        fprintf(stderr, "vireo import: --table is required for a %s file\n", format_name(fmt));
        return 2;
    }
    if (table && !(table = admin_table_name("import", component, table, qualified,
                                            sizeof qualified)))
        return 2;
    if (mode && strcmp(mode, "append") && !yes && !confirm(mode))
        return 1;
    char keybuf[65];
    const char *key = admin_find_key("import", o.key, o.dir, keybuf);
    if (!key)
        return 2;
    struct buf endpoint = BUF_INIT(BUF_NOLIMIT), resp = BUF_INIT(16u << 20);
    int rc = 1;
    struct stat sb;
    errno = 0;
    FILE *in = fopen(path, "rbe");
    if (!in || fstat(fileno(in), &sb) < 0 || !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "vireo import: cannot read %s: %s\n", path,
                in && errno == 0 ? "not a regular file" : strerror(errno));
        goto out;
    }
    static const struct {
        const char *flag, *mode;
    } modes[] = {{"append", "append"}, {"replace", "replace"}, {"replace-all", "replaceAll"}};
    buf_appendf(&endpoint, "/api/admin/import?format=%s", format_name(fmt));
    for (size_t i = 0; mode && i < sizeof modes / sizeof modes[0]; i++)
        if (!strcmp(mode, modes[i].flag))
            buf_appendf(&endpoint, "&mode=%s", modes[i].mode);
    if (table)
        buf_appendf(&endpoint, "&table=%s", table); /* a table name needs no escaping */
    long status = 0;
    /* a tenant's URL (/t/<name>) streams an import only once the tenant is open: a request
     * first opens it (its answer does not matter: the import's own says what is wrong) */
    if (sb.st_size > (1 << 20)) {
        struct buf ignored = BUF_INIT(1 << 16);
        long st = 0;
        int reached = admin_get("import", o.url, key, "/api/health", &ignored, &st) == 0;
        buf_release(&ignored);
        if (!reached)
            goto out; /* it said why */
    }
    /* sent from the file as it is read: the server streams it to disk too */
    if (admin_post_file("import", o.url, key, endpoint.data, "application/octet-stream", in,
                        (uint64_t)sb.st_size, &resp, &status) < 0)
        goto out;
    rc = report(o.url, path, &resp, status, (size_t)sb.st_size);
out:
    if (in)
        fclose(in);
    buf_release(&endpoint);
    buf_release(&resp);
    return rc;
}
