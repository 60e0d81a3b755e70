/* cmd_build: `vireo build [dir] [--out FILE]`: bundles the app once (and writes its _generated
 * files, as `vireo dev` does) into one bundle file that `vireo serve --bundle` runs and `vireo
 * deploy --bundle` pushes, on machines with neither Node nor esbuild. The file is checked by
 * loading it into an in-memory shard first, so a bundle that throws at load or whose schema is
 * invalid is refused here rather than in production. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "proto/deploy.h"
#include "proto/shard.h"
#include "base/banned.h"

static const char build_usage[] =
    "usage: vireo build [dir] [--out FILE]\n"
    "\n"
    "Bundles the app's functions folder (dir/convex, convex.json's `functions`, or dir/vireo)\n"
    "with esbuild into one file, checks that it loads, and writes it. `vireo serve --bundle FILE`\n"
    "runs it without Node or esbuild; `vireo deploy --bundle FILE` pushes it to a server.\n"
    "\n"
    "options:\n"
    "  --out FILE         where to write it (default dir/.vireo/build.js)\n"
    "  -h, --help         show this help\n";

int app_bundle_file(const struct app_paths *p, struct buf *out, struct buf *err)
{
    struct buf bundle = BUF_INIT(BUF_NOLIMIT);
    int r = app_bundle(p, &bundle, err);
    if (r == 0) {
        char name[DEPLOY_NAME_MAX];
        snprintf(name, sizeof name, "%s/", p->functions_rel);
        deploy_header(out, name);
        if (buf_append(out, bundle.data, bundle.len) < 0) {
            buf_appendf(err, "the bundle (%zu bytes) is larger than the %zu bytes allowed",
                        bundle.len, out->max);
            r = -E2BIG;
        }
    }
    buf_release(&bundle);
    return r;
}

/* Loads the bundle file into a throwaway in-memory shard: top-level code, registration and the
 * schema are checked as a server would. */
static int check_loads(const char *file, size_t len, struct buf *err)
{
    char name[DEPLOY_NAME_MAX];
    size_t off;
    struct shard *s = NULL;
    /* the deployment's URL is not known here: CONVEX_SITE_URL reads as a stand-in */
    struct js_options jopts = { .public_url = "http://127.0.0.1" };
    struct store_options sopts = { .durability = STORE_DURABILITY_RELAXED };
    int r = deploy_parse(file, len, name, &off, err);
    if (r == 0)
        r = shard_open(":memory:", &jopts, &sopts, &s, err);
    if (r == 0)
        r = shard_load(s, file + off, len - off, name, err);
    shard_free(s);
    return r < 0 ? -1 : 0;
}

int cmd_build(int argc, char **argv)
{
    const char *dir = ".", *out = NULL;
    int ndirs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(build_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--out")) {
            if (cli_option_value("build", argc, argv, &i, &out) < 0)
                return 2;
        } else if (a[0] == '-') {
            fprintf(stderr, "vireo build: unknown option %s (see vireo build --help)\n", a);
            return 2;
        } else if (ndirs++) {
            fprintf(stderr, "vireo build: unexpected argument '%s'\n", a);
            return 2;
        } else {
            dir = a;
        }
    }
    struct app_paths p;
    if (app_paths_init(&p, dir) < 0) {
        fprintf(stderr, "vireo build: cannot open app folder %s: %s\n", dir, strerror(errno));
        return 1;
    }
    int rc = 1;
    char out_path[4400];
    struct buf file = BUF_INIT(BUF_NOLIMIT), err = BUF_INIT(1 << 20);
    if (out)
        snprintf(out_path, sizeof out_path, "%s", out);
    else
        snprintf(out_path, sizeof out_path, "%s/build.js", p.state);
    if (app_bundle_file(&p, &file, &err) < 0 || check_loads(file.data, file.len, &err) < 0) {
        fprintf(stderr, "vireo build: %s\n", err.data);
        goto out;
    }
    int r = write_file(out_path, file.data, file.len, 0644);
    if (r < 0) {
        fprintf(stderr, "vireo build: cannot write %s: %s\n", out_path, strerror(-r));
        goto out;
    }
    printf("vireo build: wrote %s (%zu bytes, functions from %s/)\n", out_path, file.len,
           p.functions_rel);
    rc = 0;
out:
    buf_release(&file);
    buf_release(&err);
    return rc;
}
