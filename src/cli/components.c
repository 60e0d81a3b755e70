/* components: the folders of the Convex components an app's convex.config uses, found the way
 * Convex's bundler finds them: esbuild follows convex.config's imports (with the app's aliases
 * and resolution), and each other convex.config among its inputs is a component's definition,
 * whose folder holds that component's schema and function modules (the same rules as the app's
 * functions folder). A component that uses components imports their convex.config in its own,
 * so one pass finds them all. The app's bundle then imports every folder's convex.config, schema
 * and modules, and the prelude matches app.use()'s definitions against them by identity (esbuild
 * gives a file one module, however it is imported). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/mem.h"
#include "cli/cli.h"
#include "base/banned.h"

/* the most component folders one app may bring in */
#define MAX_COMPONENT_DIRS 64

/* 1 when path's last name is convex.config.<a module extension> */
static int is_config_path(const char *path)
{
    static const char *exts[] = { "ts", "js", "mts", "mjs", "cts", "cjs", "tsx", "jsx" };
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "convex.config.", 14))
        return 0;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (!strcmp(base + 14, exts[i]))
            return 1;
    return 0;
}

static void import_line(struct buf *b, const char *ident, const char *dir, const char *file)
{
    char spec[8800];
    snprintf(spec, sizeof spec, "%s/%s", dir, file);
    buf_appendf(b, "import * as %s from ", ident);
    buf_append_json_str(b, spec, strlen(spec));
    buf_append_str(b, ";\n");
}

/* The entry's lines for component folder number k (absolute path dir). A local component's
 * folder (the app's own, not a package's) gets its _generated/ files as the app's does. */
static int add_folder(size_t k, const char *dir, int local, struct buf *imports, struct buf *defs,
                      struct buf *err)
{
    char cfg[64], ident[64];
    struct app_modules m;
    if (find_config(dir, cfg, sizeof cfg) < 0) {
        buf_appendf(err, "%s: no convex.config there", dir);
        return -1;
    }
    if (local && app_write_generated_in(dir, err) < 0)
        return -1;
    if (app_modules_in(dir, &m, err) < 0)
        return -1;
    snprintf(ident, sizeof ident, "cd%zu", k);
    import_line(imports, ident, dir, cfg);
    if (m.schema) {
        snprintf(ident, sizeof ident, "cs%zu", k);
        import_line(imports, ident, dir, m.schema);
    }
    buf_appendf(defs, "    { definition: cd%zu.default ?? null, schema: ", k);
    if (m.schema)
        buf_appendf(defs, "cs%zu.default ?? null", k);
    else
        buf_append_str(defs, "null");
    buf_append_str(defs, ", modules: {\n");
    for (size_t i = 0; i < m.n; i++) {
        char modname[4400];
        snprintf(modname, sizeof modname, "%s", m.paths[i]);
        char *dot = strrchr(modname, '.');
        if (dot && dot > strrchr(modname, '/'))
            *dot = '\0';
        snprintf(ident, sizeof ident, "cm%zu_%zu", k, i);
        import_line(imports, ident, dir, m.paths[i]);
        buf_append_str(defs, "      ");
        buf_append_json_str(defs, modname, strlen(modname));
        buf_appendf(defs, ": %s,\n", ident);
    }
    buf_append_str(defs, "    } },\n");
    app_modules_release(&m);
    return 0;
}

int app_components(const struct app_paths *p, const char *config, struct buf *imports,
                   struct buf *defs, struct buf *err)
{
    char entry[4400], meta_arg[4500], meta_path[4400], own[4400];
    struct buf out = BUF_INIT(1 << 20), text = BUF_INIT(64 << 20);
    json_t *meta = NULL;
    char *dirs[MAX_COMPONENT_DIRS];
    size_t ndirs = 0;
    int ret = -1;

    snprintf(entry, sizeof entry, "%s/%s", p->functions, config);
    snprintf(own, sizeof own, "%s/%s", p->functions_rel, config);
    snprintf(meta_path, sizeof meta_path, "%s/config-meta.json", p->state);
    snprintf(meta_arg, sizeof meta_arg, "--metafile=%s", meta_path);
    if (app_esbuild(p, entry, ".vireo/config-probe.js", meta_arg, &out, err) < 0)
        goto out;
    int r = read_all(meta_path, &text);
    if (r < 0) {
        buf_appendf(err, "cannot read %s: %s", meta_path, strerror(-r));
        goto out;
    }
    json_error_t je;
    meta = json_loadb(text.data, text.len, 0, &je);
    json_t *inputs = json_object_get(meta, "inputs");
    if (!json_is_object(inputs)) {
        buf_appendf(err, "%s: esbuild's metafile has no inputs", meta_path);
        goto out;
    }
    const char *path;
    json_t *v;
    json_object_foreach(inputs, path, v)
    {
        (void)v;
        if (!is_config_path(path) || !strcmp(path, own))
            continue;
        if (ndirs == MAX_COMPONENT_DIRS) {
            buf_appendf(err, "convex.config: more than %d component folders", MAX_COMPONENT_DIRS);
            goto out;
        }
        char dir[8800];
        snprintf(dir, sizeof dir, "%s%s%s", path[0] == '/' ? "" : p->root,
                 path[0] == '/' ? "" : "/", path);
        *strrchr(dir, '/') = '\0';
        char real[PATH_MAX];
        if (!realpath(dir, real)) {
            buf_appendf(err, "convex.config: cannot resolve %s: %s", dir, strerror(errno));
            goto out;
        }
        dirs[ndirs++] = vr_strdup(real);
    }
    char root[PATH_MAX];
    if (!realpath(p->root, root)) {
        buf_appendf(err, "cannot resolve %s: %s", p->root, strerror(errno));
        goto out;
    }
    for (size_t k = 0; k < ndirs; k++) {
        size_t rl = strlen(root);
        int local = !strncmp(dirs[k], root, rl) && dirs[k][rl] == '/' &&
                    !strstr(dirs[k] + rl, "/node_modules/");
        if (add_folder(k, dirs[k], local, imports, defs, err) < 0)
            goto out;
    }
    ret = 0;
out:
    for (size_t k = 0; k < ndirs; k++)
        vr_free(dirs[k]);
    json_decref(meta);
    buf_release(&out);
    buf_release(&text);
    return ret;
}
