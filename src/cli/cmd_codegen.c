/* cmd_codegen: `vireo codegen [dir]` writes dir/vireo/_generated/ (api, server and dataModel, as
 * .js and .d.ts, plus the vireo.d.ts type library) from the app's modules and schema, without
 * starting a server: for editors and `tsc` in CI. `dev` and `init` write the same. An app with a
 * convex.config is bundled as far as finding its components takes (components.c), and its local
 * components' folders get their _generated/ as `dev` writes them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "base/banned.h"

static const char codegen_usage[] =
    "usage: vireo codegen [dir]\n"
    "\n"
    "Writes the typed import files of the app in dir (default .) into its functions folder's\n"
    "_generated/: api.js/api.d.ts (api.module.fn and internal.module.fn), server.js/server.d.ts\n"
    "(query, mutation, action and the rest, QueryCtx, MutationCtx, ActionCtx), dataModel.d.ts\n"
    "(Doc, Id, DataModel from schema.ts) and vireo.d.ts (the types they use; no `convex`\n"
    "package needed). With a convex.config, each local component's folder gets its own\n"
    "_generated/ too (its components are found by bundling convex.config with esbuild).\n"
    "`vireo dev` rewrites them on every reload.\n";

int cmd_codegen(int argc, char **argv)
{
    const char *dir = ".";
    int ndirs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(codegen_usage, stdout);
            return 0;
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "vireo codegen: unknown option %s\n\n%s", argv[i], codegen_usage);
            return 2;
        }
        if (ndirs++) {
            fprintf(stderr, "vireo codegen: more than one folder given (%s)\n", argv[i]);
            return 2;
        }
        dir = argv[i];
    }
    struct app_paths p;
    if (app_paths_init(&p, dir) < 0) {
        fprintf(stderr, "vireo codegen: cannot open %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (!path_exists(p.functions)) {
        fprintf(stderr, "vireo codegen: no vireo/ folder in %s (create an app with `vireo init`)\n",
                p.root);
        return 1;
    }
    struct buf err = BUF_INIT(8192);
    if (app_write_generated(&p, &err) < 0) {
        fprintf(stderr, "vireo codegen: %s\n", err.data);
        buf_release(&err);
        return 1;
    }
    printf("wrote %s/_generated\n", p.functions);
    /* local components' folders get theirs too; finding them takes bundling convex.config */
    char config[64];
    if (find_config(p.functions, config, sizeof config) == 0) {
        struct buf imports = BUF_INIT(BUF_NOLIMIT), defs = BUF_INIT(BUF_NOLIMIT);
        /* the shims (what convex/server resolves to; their folder makes .vireo/ too) */
        int r = app_write_shims(&p, &err);
        if (r == 0)
            r = app_components(&p, config, &imports, &defs, &err);
        buf_release(&imports);
        buf_release(&defs);
        if (r < 0) {
            fprintf(stderr, "vireo codegen: %s\n", err.data);
            buf_release(&err);
            return 1;
        }
        printf("wrote the _generated folders of the app's local components\n");
    }
    buf_release(&err);
    return 0;
}
