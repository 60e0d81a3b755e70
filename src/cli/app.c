/* app: an app folder's layout (vireo/ for functions, .vireo/ for local state), its admin key,
 * module discovery, and bundling with esbuild (codegen.c writes the _generated/ files). */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/rand.h"
#include "cli/cli.h"
#include "base/banned.h"

extern char **environ;

int path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int mkdir_p(const char *path, mode_t mode)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n >= sizeof tmp)
        return -ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    return file_write_atomic(path, data, len, mode, 0);
}

int read_all(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    char tmp[65536];
    size_t n;
    int r = 0;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (buf_append(out, tmp, n) < 0) {
            r = -E2BIG;
            break;
        }
    if (ferror(f))
        r = -EIO;
    fclose(f);
    return r;
}

/* Checks and normalizes convex.json's `functions` value into out: a relative path inside the
 * project ("./src/convex/" -> "src/convex"). -1 with a message in err when it is not one. */
static int normalize_functions_rel(const char *v, char *out, size_t cap, char *err, size_t ecap)
{
    while (v[0] == '.' && v[1] == '/')
        v += 2;
    size_t n = strlen(v);
    while (n && v[n - 1] == '/')
        n--;
    int bad = n == 0 || v[0] == '/' || n >= cap;
    for (size_t i = 0; !bad && i < n;) { /* no "." or ".." segment, no empty one */
        size_t j = i;
        while (j < n && v[j] != '/')
            j++;
        size_t seg = j - i;
        bad = seg == 0 || (seg == 1 && v[i] == '.') || (seg == 2 && v[i] == '.' && v[i + 1] == '.');
        i = j + 1;
    }
    if (bad) {
        snprintf(err, ecap,
                 "convex.json: `functions` must be a folder inside the project of at most %zu "
                 "characters, like \"convex/\" or \"src/convex/\" (got \"%.200s\")",
                 cap - 1,
                 v);
        return -1;
    }
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

/* Sets p->functions_rel from root/convex.json when it names the functions folder; 0 when it
 * does not (no file, no `functions` field), 1 when it does, -1 with p->layout_err set. */
static int read_convex_json(struct app_paths *p)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/convex.json", p->root);
    struct buf text = BUF_INIT(1 << 20);
    int r = read_all(path, &text), ret = -1;
    json_t *root = NULL;
    if (r == -ENOENT) {
        ret = 0;
        goto out;
    }
    if (r < 0) {
        snprintf(p->layout_err, sizeof p->layout_err, "cannot read %.1200s: %s", path,
                 r == -E2BIG ? "larger than 1 MiB" : strerror(-r));
        goto out;
    }
    json_error_t je;
    root = json_loadb(text.data, text.len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        if (root)
            snprintf(p->layout_err, sizeof p->layout_err, "%.1200s: expected a JSON object",
                     path);
        else
            snprintf(p->layout_err, sizeof p->layout_err, "%.1200s:%d: %s", path, je.line,
                     je.text);
        goto out;
    }
    json_t *f = json_object_get(root, "functions");
    if (!f) {
        ret = 0;
        goto out;
    }
    if (!json_is_string(f)) {
        snprintf(p->layout_err, sizeof p->layout_err,
                 "%.1200s: `functions` must be a string (the functions folder, like "
                 "\"convex/\")",
                 path);
        goto out;
    }
    if (normalize_functions_rel(json_string_value(f), p->functions_rel, sizeof p->functions_rel,
                                p->layout_err, sizeof p->layout_err) < 0)
        goto out;
    ret = 1;
out:
    json_decref(root);
    buf_release(&text);
    return ret;
}

int read_file(const char *path, struct buf *out)
{
    return read_all(path, out);
}

int app_paths_init(struct app_paths *p, const char *dir)
{
    char abs[PATH_MAX];
    if (!realpath(dir, abs))
        return -errno;
    snprintf(p->root, sizeof p->root, "%s", abs);
    snprintf(p->state, sizeof p->state, "%s/.vireo", abs);
    snprintf(p->data, sizeof p->data, "%s/.vireo/data", abs);
    p->layout_err[0] = '\0';
    if (read_convex_json(p) != 1) {
        char convex[4200];
        snprintf(convex, sizeof convex, "%s/convex", abs);
        struct stat st;
        snprintf(p->functions_rel, sizeof p->functions_rel, "%s",
                 stat(convex, &st) == 0 && S_ISDIR(st.st_mode) ? "convex" : "vireo");
    }
    snprintf(p->functions, sizeof p->functions, "%s/%s", abs, p->functions_rel);
    return 0;
}

int app_check_functions(const struct app_paths *p, struct buf *err)
{
    struct stat st;
    if (p->layout_err[0]) {
        buf_append_str(err, p->layout_err);
        return -1;
    }
    if (stat(p->functions, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    if (strcmp(p->functions_rel, "vireo") != 0)
        buf_appendf(err, "convex.json names the functions folder %s/, which is not a folder",
                    p->functions_rel);
    else
        buf_appendf(err,
                    "no vireo/ folder in %s, nor a convex/ folder or a convex.json naming one "
                    "(create an app with `vireo init`)",
                    p->root);
    return -1;
}

int app_state_dirs(const struct app_paths *p)
{
    int r = mkdir_p(p->data, 0700);
    if (r < 0)
        return r;
    /* tighten folders an older version created 0755 */
    const char *dirs[] = { p->state, p->data };
    for (size_t i = 0; i < 2; i++) {
        struct stat st;
        if (stat(dirs[i], &st) == 0 && (st.st_mode & 077) && chmod(dirs[i], 0700) < 0)
            log_warn("dev", "cannot make \"%s\" private (mode 0700): %s", dirs[i],
                     strerror(errno));
    }
    return 0;
}

int app_admin_key(const struct app_paths *p, int create, char out[65], struct buf *err)
{
    static const char fix[] =
        "an admin key never changes silently (scripts holding it would fail), "
        "so vireo leaves it alone: put the key back, or delete the file to "
        "have a new one made";
    char path[4400];
    snprintf(path, sizeof path, "%s/admin_key", p->state);
    struct buf b = BUF_INIT(4096);
    int r = read_all(path, &b);
    if (r == 0) {
        while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' ||
                         b.data[b.len - 1] == ' ' || b.data[b.len - 1] == '\t'))
            b.data[--b.len] = '\0';
        size_t bad = 0;
        while (bad < b.len && b.data[bad] > ' ' && b.data[bad] < 0x7f)
            bad++;
        if (b.len == 0)
            buf_appendf(err, "%s is empty: %s", path, fix);
        else if (b.len > 64)
            buf_appendf(err, "%s holds %zu characters, more than the 64 of an admin key: %s", path,
                        b.len, fix);
        else if (bad < b.len)
            buf_appendf(err,
                        "%s holds byte 0x%02x at offset %zu, which is not a printable ASCII "
                        "character of an admin key: %s",
                        path, (unsigned char)b.data[bad], bad, fix);
        else
            memcpy(out, b.data, b.len + 1);
        buf_release(&b);
        return err->len ? -EINVAL : 0;
    }
    buf_release(&b);
    if (r != -ENOENT || !create) {
        buf_appendf(err, "cannot read %s: %s", path,
                    r == -E2BIG ? "the file is far larger than an admin key" : strerror(-r));
        return r;
    }
    if ((r = mkdir_p(p->state, 0700)) < 0) {
        buf_appendf(err, "cannot create %s: %s", p->state, strerror(-r));
        return r;
    }
    rand_hex(out, 32);
    char line[80];
    int n = snprintf(line, sizeof line, "%s\n", out);
    if ((r = write_file(path, line, (size_t)n, 0600)) < 0) {
        buf_appendf(err, "cannot write %s: %s", path, strerror(-r));
        return r;
    }
    return 1;
}

/* --- module discovery --- */

/* Whether a file of the functions folder is a function module, as Convex decides (its bundler's
 * entryPoints): a .js/.ts-family extension, and not a dotfile, an editor's `#` file, a name with
 * a space, or a name with more than one dot (foo.test.ts, auth.config.ts, convex.config.ts,
 * foo.d.ts). Vireo also skips names starting with `_` (helpers that function files import).
 * `schema.*` at the root is handled by the caller. */
static int is_module_file(const char *name)
{
    static const char *exts[] = { ".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs" };
    if (name[0] == '_' || name[0] == '.' || name[0] == '#' || strchr(name, ' '))
        return 0;
    const char *dot = strchr(name, '.');
    if (!dot || strchr(dot + 1, '.'))
        return 0;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (!strcmp(dot, exts[i]))
            return 1;
    return 0;
}

int find_config(const char *dir, char *name, size_t cap)
{
    static const char *exts[] = { "ts", "js", "mts", "mjs", "cts", "cjs", "tsx", "jsx" };
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        char path[4600];
        snprintf(path, sizeof path, "%s/convex.config.%s", dir, exts[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (name)
                snprintf(name, cap, "convex.config.%s", exts[i]);
            return 0;
        }
    }
    return -ENOENT;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds every function file under base/rel to m (schema.* at the top goes to m->schema). */
static int collect_modules(const char *base, const char *rel, struct app_modules *m, size_t *cap)
{
    char dir[4400];
    snprintf(dir, sizeof dir, "%s%s%s", base, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    char **names = NULL;
    size_t n = 0, ncap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        /* files and folders starting with `_` (helpers, _generated) or `.` are not functions;
         * function files may still import them */
        if (de->d_name[0] == '.' || de->d_name[0] == '_' || !strcmp(de->d_name, "node_modules"))
            continue;
        if (n == ncap) {
            ncap = ncap ? ncap * 2 : 16;
            names = vr_realloc(names, ncap * sizeof *names);
        }
        names[n++] = vr_strdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        char sub[4400], full[4500];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", names[i]);
        snprintf(full, sizeof full, "%s/%s", base, sub);
        struct stat st;
        if (r < 0 || stat(full, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            /* a folder with a convex.config is a component's: its modules are its own */
            if (find_config(full, NULL, 0) == 0)
                log_debug("app", "\"%s\" is a component's folder; its modules are not the app's",
                          sub);
            else
                r = collect_modules(base, sub, m, cap);
            continue;
        }
        /* convex.config.ts: the components the app uses (components.c), not a function module */
        if (!*rel && !strncmp(names[i], "convex.config.", 14) && S_ISREG(st.st_mode) &&
            is_module_file(names[i] + 7)) {
            if (!m->config)
                m->config = vr_strdup(sub);
            continue;
        }
        const char *dot = strrchr(names[i], '.');
        if (!*rel && dot && (size_t)(dot - names[i]) == 6 && !strncmp(names[i], "schema", 6)) {
            if (!m->schema)
                m->schema = vr_strdup(sub);
            continue;
        }
        /* auth.config.ts: configuration (the providers), bundled but not a function module */
        if (!*rel && !strncmp(names[i], "auth.config.", 12) && S_ISREG(st.st_mode) &&
            is_module_file(names[i] + 5)) {
            if (!m->auth_config)
                m->auth_config = vr_strdup(sub);
            continue;
        }
        if (!S_ISREG(st.st_mode) || !is_module_file(names[i])) {
            log_debug("app", "\"%s\" is not a function module; skipped", sub);
            continue;
        }
        if (m->n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            m->paths = vr_realloc(m->paths, *cap * sizeof *m->paths);
        }
        m->paths[m->n++] = vr_strdup(sub);
    }
    for (size_t i = 0; i < n; i++)
        vr_free(names[i]);
    vr_free(names);
    return r;
}

int app_modules_list(const struct app_paths *p, struct app_modules *m, struct buf *err)
{
    return app_modules_in(p->functions, m, err);
}

int app_modules_in(const char *dir, struct app_modules *m, struct buf *err)
{
    size_t cap = 0;
    memset(m, 0, sizeof *m);
    int r = collect_modules(dir, "", m, &cap);
    if (r < 0) {
        buf_appendf(err, "cannot read %s: %s", dir, strerror(-r));
        app_modules_release(m);
    }
    return r;
}

void app_modules_release(struct app_modules *m)
{
    for (size_t i = 0; i < m->n; i++)
        vr_free(m->paths[i]);
    vr_free(m->paths);
    vr_free(m->schema);
    vr_free(m->auth_config);
    vr_free(m->config);
    memset(m, 0, sizeof *m);
}

/* Where esbuild lives: $VIREO_ESBUILD, node_modules/.bin above the app, above the vireo
 * binary, then PATH. */
static int find_esbuild(const struct app_paths *p, char out[4096])
{
    const char *env = getenv("VIREO_ESBUILD");
    if (env && *env) {
        snprintf(out, 4096, "%s", env);
        return 0;
    }
    char starts[2][4096];
    snprintf(starts[0], sizeof starts[0], "%s", p->root);
    ssize_t n = readlink("/proc/self/exe", starts[1], sizeof starts[1] - 1);
    starts[1][n > 0 ? n : 0] = '\0';
    for (int s = 0; s < 2; s++) {
        char dir[4096];
        memcpy(dir, starts[s], sizeof dir);
        while (*dir) {
            snprintf(out, 4096, "%.4000s/node_modules/.bin/esbuild", dir);
            if (access(out, X_OK) == 0)
                return 0;
            char *slash = strrchr(dir, '/');
            if (!slash)
                break;
            *slash = '\0';
        }
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(out, 4096, "%.*s/esbuild", (int)len, path);
        if (len && access(out, X_OK) == 0)
            return 0;
        path = colon ? colon + 1 : NULL;
    }
    return -ENOENT;
}

/* Runs argv with cwd `dir`, capturing stdout+stderr into out. Returns the exit status or -errno. */
static int run_capture(char *const argv[], const char *dir, struct buf *out)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addchdir_np(&fa, dir);
    pid_t pid;
    int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (r != 0) {
        close(fds[0]);
        return -r;
    }
    char tmp[4096];
    for (;;) {
        ssize_t n = read(fds[0], tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        buf_append(out, tmp, (size_t)n);
    }
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int app_esbuild(const struct app_paths *p, const char *entry, const char *outfile,
                const char *extra, struct buf *out, struct buf *err)
{
    char esbuild[4096], outarg[4400];
    char alias_values[4400], alias_server[4400], alias_browser[4400], alias_vireo[4400],
        alias_zocket[4400];
    if (find_esbuild(p, esbuild) < 0) {
        buf_append_str(err, "esbuild not found: run `make` in the vireo checkout (it installs "
                            "esbuild) or set VIREO_ESBUILD");
        return -1;
    }
    /* --alias is applied before any node_modules lookup: an installed `convex` package is never
     * bundled, its imports resolve to Vireo's prelude */
    snprintf(alias_values, sizeof alias_values, "--alias:convex/values=%s/shims/values.js",
             p->state);
    snprintf(alias_server, sizeof alias_server, "--alias:convex/server=%s/shims/server.js",
             p->state);
    snprintf(alias_browser, sizeof alias_browser, "--alias:convex/browser=%s/shims/browser.js",
             p->state);
    snprintf(alias_vireo, sizeof alias_vireo, "--alias:vireo/server=%s/shims/vireo-server.js",
             p->state);
    snprintf(alias_zocket, sizeof alias_zocket, "--alias:@zocket/core=%s/shims/zocket-core.js",
             p->state);
    snprintf(outarg, sizeof outarg, "--outfile=%s", outfile);
    /* resolved as Convex's bundler resolves for its default runtime: the browser platform with
     * the "convex" and "module" conditions (a package's browser build, never its node one) and
     * NODE_ENV "production" */
    char *argv[] = { esbuild, (char *)entry, "--bundle", "--format=iife", "--platform=browser",
                     "--conditions=convex,module", "--main-fields=browser,module,main",
                     "--define:process.env.NODE_ENV=\"production\"", "--target=es2022",
                     "--log-level=warning",
                     "--color=false", "--log-override:import-is-undefined=silent",
                     alias_values, alias_server, alias_browser, alias_vireo, alias_zocket,
                     "--sourcemap=inline", "--sources-content=false", outarg,
                     (char *)extra, NULL };
    int r = run_capture(argv, p->root, out);
    if (r != 0) {
        if (r < 0)
            buf_appendf(err, "cannot run %s: %s", esbuild, strerror(-r));
        else
            buf_appendf(err, "bundling failed:\n%s", out->data ? out->data : "");
        return -1;
    }
    return 0;
}

/* Appends `import * as <ident> from "../<functions>/<file>";` to the bundle's entry (it lives in
 * root/.vireo). */
static void append_import(struct buf *b, const struct app_paths *p, const char *ident,
                          const char *file)
{
    char spec[4600];
    snprintf(spec, sizeof spec, "../%s/%s", p->functions_rel, file);
    buf_appendf(b, "import * as %s from ", ident);
    buf_append_json_str(b, spec, strlen(spec));
    buf_append_str(b, ";\n");
}

int app_bundle(const struct app_paths *p, struct buf *bundle_out, struct buf *err)
{
    struct buf imports = BUF_INIT(BUF_NOLIMIT), table = BUF_INIT(BUF_NOLIMIT);
    struct buf files = BUF_INIT(BUF_NOLIMIT), defs = BUF_INIT(BUF_NOLIMIT);
    struct buf entry = BUF_INIT(BUF_NOLIMIT), out = BUF_INIT(1 << 20);
    struct app_modules mods = { 0 };
    int ret = -1;
    char entry_path[4400], bundle_path[4400];

    if (app_check_functions(p, err) < 0)
        goto out;
    if (mkdir_p(p->state, 0700) < 0 || app_write_generated(p, err) < 0 ||
        app_write_shims(p, err) < 0)
        goto out;
    int r = app_modules_list(p, &mods, err);
    if (r < 0)
        goto out;
    for (size_t i = 0; i < mods.n; i++) {
        char modname[4400], ident[32];
        snprintf(modname, sizeof modname, "%s", mods.paths[i]);
        char *dot = strrchr(modname, '.');
        if (dot && dot > strrchr(modname, '/'))
            *dot = '\0';
        snprintf(ident, sizeof ident, "m%zu", i);
        append_import(&imports, p, ident, mods.paths[i]);
        buf_append_json_str(&table, modname, strlen(modname));
        buf_appendf(&table, ": m%zu,\n", i);
        /* the root's crons and http modules: Convex reads their default exports */
        if (!strcmp(modname, "crons") || !strcmp(modname, "http")) {
            buf_append_json_str(&files, modname, strlen(modname));
            buf_append_str(&files, ": ");
            buf_append_json_str(&files, mods.paths[i], strlen(mods.paths[i]));
            buf_append_str(&files, ",\n");
        }
    }
    if (mods.config) {
        append_import(&imports, p, "configModule", mods.config);
        buf_append_str(&defs, "  componentDefs: [\n");
        if (app_components(p, mods.config, &imports, &defs, err) < 0)
            goto out;
        buf_append_str(&defs, "  ],\n  config: configModule.default ?? null,\n");
    }
    buf_append_str(&entry, "/* generated by vireo dev: the app's modules; do not edit */\n");
    buf_append(&entry, imports.data, imports.len);
    if (mods.schema)
        append_import(&entry, p, "schemaModule", mods.schema);
    if (mods.auth_config)
        append_import(&entry, p, "authConfigModule", mods.auth_config);
    buf_appendf(&entry,
                "globalThis.__vireo_app = {\n  schema: %s,\n  authConfig: %s,\n"
                "  modules: {\n%s  },\n  files: {\n%s  },\n%s};\n",
                mods.schema ? "schemaModule.default ?? schemaModule.schema ?? null" : "null",
                mods.auth_config ? "authConfigModule.default ?? null" : "null",
                table.len ? table.data : "", files.len ? files.data : "",
                defs.len ? defs.data : "");
    snprintf(entry_path, sizeof entry_path, "%s/entry.js", p->state);
    snprintf(bundle_path, sizeof bundle_path, "%s/bundle.js", p->state);
    if ((r = write_file(entry_path, entry.data, entry.len, 0644)) < 0) {
        buf_appendf(err, "cannot write %s: %s", entry_path, strerror(-r));
        goto out;
    }
    if ((r = app_esbuild(p, entry_path, ".vireo/bundle.js", NULL, &out, err)) < 0)
        goto out;
    if (out.len)
        fprintf(stderr, "%s", out.data);
    buf_reset(bundle_out);
    if ((r = read_all(bundle_path, bundle_out)) < 0) {
        buf_appendf(err, "cannot read %s: %s", bundle_path, strerror(-r));
        goto out;
    }
    ret = 0;
out:
    app_modules_release(&mods);
    buf_release(&imports);
    buf_release(&table);
    buf_release(&files);
    buf_release(&defs);
    buf_release(&entry);
    buf_release(&out);
    return ret;
}
