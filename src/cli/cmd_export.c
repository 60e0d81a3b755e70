/* cmd_export: `vireo export --path FILE [--include-file-storage]`, as `npx convex export`: a
 * snapshot of a running server's tables (GET /api/admin/export with the admin key) as a ZIP in
 * Convex's export format (proto/snapshot_zip.h), which `vireo import` (or `npx convex import`)
 * loads back. The file is written to a temporary name beside FILE and renamed once whole. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "base/banned.h"

static const char export_usage[] =
    "usage: vireo export --path FILE [options]\n"
    "\n"
    "Writes a snapshot of a running server's tables to FILE, a ZIP in Convex's export format\n"
    "(one committed state: the server keeps serving while it is made). `vireo import FILE`\n"
    "loads it back; so does `npx convex import`.\n"
    "\n"
    "options:\n"
    "  --path FILE              where to write the ZIP (a folder: snapshot_<time>.zip in it)\n"
    "  --include-file-storage   also the stored files (ctx.storage) and their "
    "documents\n" ADMIN_OPTS_USAGE "  -h, --help               show this help\n";

int cmd_export(int argc, char **argv)
{
    const char *path = NULL;
    int storage = 0, r;
    struct admin_opts o;
    admin_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(export_usage, stdout);
            return 0;
        } else if ((r = admin_opts_take(&o, "export", 1, argc, argv, &i)) != 0) {
            if (r < 0)
                return 2;
        } else if (!strcmp(a, "--path")) {
            if (cli_option_value("export", argc, argv, &i, &path) < 0)
                return 2;
        } else if (!strcmp(a, "--include-file-storage")) {
            storage = 1;
        } else {
            fprintf(stderr, "vireo export: unexpected argument '%s' (see vireo export --help)\n",
                    a);
            return 2;
        }
    }
    if (!path) {
        fputs("vireo export: --path FILE is required (where to write the ZIP)\n", stderr);
        return 2;
    }
    char keybuf[65], target[4200], tmp[4300];
    const char *key = admin_find_key("export", o.key, o.dir, keybuf);
    if (!key)
        return 2;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) /* a folder: a name of Convex's form */
        snprintf(target, sizeof target, "%s/snapshot_%lld.zip", path, (long long)time(NULL));
    else
        snprintf(target, sizeof target, "%s", path);
    snprintf(tmp, sizeof tmp, "%s.part-XXXXXX", target);
    int fd = mkstemp(tmp);
    FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!out) {
        fprintf(stderr, "vireo export: cannot create a file beside %s: %s\n", target,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    struct buf resp = BUF_INIT(1 << 20);
    uint64_t written = 0;
    long status = 0;
    int rc = 1;
    r = admin_get_file("export", o.url, key,
                       storage ? "/api/admin/export?includeStorage=true" : "/api/admin/export", out,
                       &written, &resp, &status);
    int closed = fclose(out);
    if (r < 0)
        goto out;
    if (status != 200) {
        admin_print_refusal("export", o.url, &resp, status);
        goto out;
    }
    if (closed != 0 || rename(tmp, target) < 0) {
        fprintf(stderr, "vireo export: cannot write %s: %s\n", target, strerror(errno));
        goto out;
    }
    printf("vireo export: %s (%llu bytes) from %s\n", target, (unsigned long long)written, o.url);
    rc = 0;
out:
    if (rc)
        unlink(tmp);
    buf_release(&resp);
    return rc;
}
