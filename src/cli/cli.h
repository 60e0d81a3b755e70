/* cli: the `vireo` commands. Only this module prints to the terminal for the user and only
 * main() exits; commands return 0 or an exit status. */
#ifndef VR_CLI_CLI_H
#define VR_CLI_CLI_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/buf.h"

int cmd_init(int argc, char **argv);
int cmd_codegen(int argc, char **argv);
int cmd_dev(int argc, char **argv, int watch); /* dev (watch = 1) and serve (watch = 0) */
int cmd_run(int argc, char **argv);
int cmd_reset(int argc, char **argv);
int cmd_admin_key(int argc, char **argv);
int cmd_env(int argc, char **argv);
int cmd_actors(int argc, char **argv);

/* admin_client.c, for the commands that call a running server's admin API (`run`, `env`,
 * `deploy`). admin_find_key: `key` if given (and not empty), else DIR/.vireo/admin_key read
 * into out; NULL after printing why ("vireo <cmd>: ..."). admin_post_body: POSTs `len` bytes of
 * `body` (as content_type) to url + endpoint with the key and collects the answer in resp; 0
 * (any HTTP status, in *status), or -1 after printing that the server cannot be reached.
 * admin_post: the same with a JSON text body. */
const char *admin_find_key(const char *cmd, const char *key, const char *dir, char out[65]);
/* The table a command's TABLE and --component PATH name (`vireo data`, `vireo import`): TABLE,
 * or the component's "PATH/TABLE" written into buf; NULL after printing "vireo <cmd>: ... is not
 * a table name" when that is not one (store_table_name_ok). */
const char *admin_table_name(const char *cmd, const char *component, const char *table,
                             char *buf, size_t cap);

/* The options of the commands that call a running server: --url URL, --dir DIR (the folder whose
 * .vireo/admin_key is read) and --admin-key KEY. admin_opts_init sets their defaults
 * (http://127.0.0.1:8788, ".", $VIREO_ADMIN_KEY). admin_opts_take: when argv[*i] is one of them
 * (--dir only if `with_dir`) it takes it with its value (advancing *i) and returns 1; 0 when it
 * is not one of them; -1 after printing "vireo <cmd>: option X needs a value". */
struct admin_opts {
    const char *url, *dir, *key;
};
void admin_opts_init(struct admin_opts *o);
int admin_opts_take(struct admin_opts *o, const char *cmd, int with_dir, int argc, char **argv,
                    int *i);
/* The help lines of those three options, for a command's usage text. */
#define ADMIN_OPTS_USAGE                                                                           \
    "  --url URL          the server (default http://127.0.0.1:8788)\n"                            \
    "  --dir DIR          the app folder whose .vireo/admin_key to use (default .)\n"              \
    "  --admin-key KEY    the admin key (default: $VIREO_ADMIN_KEY, then DIR/.vireo/admin_key)\n"
/* The value of option argv[*i] (advancing *i): 0, or -1 after printing "vireo <cmd>: option X
 * needs a value". */
int cli_option_value(const char *cmd, int argc, char **argv, int *i, const char **value);
int admin_post_body(const char *cmd, const char *url, const char *key, const char *endpoint,
                    const char *content_type, const char *body, size_t len, struct buf *resp,
                    long *status);
int admin_post(const char *cmd, const char *url, const char *key, const char *endpoint,
               const char *body, struct buf *resp, long *status);
/* admin_get: a GET of url + endpoint with the key, answered as admin_post_body. */
int admin_get(const char *cmd, const char *url, const char *key, const char *endpoint,
              struct buf *resp, long *status);
/* admin_get_file: admin_get whose answer, when its status is 200, is written to out as it
 * arrives (*written bytes), and collected in resp otherwise. */
int admin_get_file(const char *cmd, const char *url, const char *key, const char *endpoint,
                   FILE *out, uint64_t *written, struct buf *resp, long *status);
/* admin_post_body with the body read from `in` as it is sent (len bytes: a file's size). */
int admin_post_file(const char *cmd, const char *url, const char *key, const char *endpoint,
                    const char *content_type, FILE *in, uint64_t len, struct buf *resp,
                    long *status);
/* Prints a refused admin call to stderr: "vireo <cmd>: refused (<errorCode>, HTTP <status>):
 * <errorMessage>", or, for an answer that is not the API's JSON, that it was unexpected. */
void admin_print_refusal(const char *cmd, const char *url, const struct buf *resp, long status);

/* Paths of an app folder. The functions folder is found as Convex finds it: convex.json's
 * `functions` field (a relative path inside root), else root/convex if it exists, else
 * root/vireo (Vireo's own layout, what `vireo init` creates). */
struct app_paths {
    char root[4096];          /* the app folder */
    char functions[4200];     /* root/<functions_rel> */
    char functions_rel[104];  /* "convex", "vireo" or convex.json's path, no trailing '/' */
    char state[4200];         /* root/.vireo */
    char data[4300];          /* root/.vireo/data */
    char layout_err[1400];    /* why convex.json could not be used; "" when it could */
};
/* Fails only when dir cannot be resolved (-errno); a bad convex.json is kept in layout_err for
 * app_check_functions to report, so that commands not needing functions still work. */
int app_paths_init(struct app_paths *p, const char *dir);

/* 0 when the functions folder is usable; else -1 with a message in err (a bad convex.json, or
 * no functions folder: "no vireo/ folder in ROOT, nor a convex/ folder ..."). */
int app_check_functions(const struct app_paths *p, struct buf *err);

/* Writes the import shims under root/.vireo/shims/ that the bundle resolves `convex/values`,
 * `convex/server`, `convex/browser` and `vireo/server` to (src/cli/shims.c): each re-exports
 * names of globalThis.__vireo, so an installed `convex` package is never bundled. */
int app_write_shims(const struct app_paths *p, struct buf *err);

/* Reads the admin key from root/.vireo/admin_key, creating it (mode 0600) if asked and missing.
 * Returns 0 when read, 1 when created, or a negative errno with a message naming the file in err
 * (-ENOENT: missing and not asked to create; -EINVAL: the file is empty, longer than 64
 * characters or holds a byte that is not printable ASCII: it is never replaced). */
int app_admin_key(const struct app_paths *p, int create, char out[65], struct buf *err);

/* Creates root/.vireo and root/.vireo/data (mode 0700) if missing and tightens them to 0700 if
 * they are wider (a warning if that fails): the database, its WAL and the admin key are for the
 * owner only. */
int app_state_dirs(const struct app_paths *p);

/* The function modules of an app: every module file under the functions folder (paths relative
 * to it, "dir/file.ts", in name order) and its schema file. */
struct app_modules {
    char **paths;
    size_t n;
    char *schema; /* "schema.ts" (any module extension) at the top, or NULL */
    char *auth_config; /* "auth.config.ts" (any module extension) at the top, or NULL */
    char *config;      /* "convex.config.ts" (any module extension) at the top, or NULL */
};
/* Fills m (released with app_modules_release, also on failure). Returns 0 or a negative errno
 * with a message in err. */
int app_modules_list(const struct app_paths *p, struct app_modules *m, struct buf *err);
void app_modules_release(struct app_modules *m);
/* The same for any folder (a component's). */
int app_modules_in(const char *dir, struct app_modules *m, struct buf *err);
/* 0 when dir holds a convex.config (any module extension; its file name in name when not
 * NULL): a component's folder. -ENOENT when not. */
int find_config(const char *dir, char *name, size_t cap);

/* Runs esbuild (found as app_bundle finds it, with its aliases and resolution) from the app's
 * root on entry into outfile, with one more argument when extra is not NULL; its output in out.
 * 0, or -1 with a message in err. */
int app_esbuild(const struct app_paths *p, const char *entry, const char *outfile,
                const char *extra, struct buf *out, struct buf *err);

/* The components the app's convex.config uses (components.c): esbuild follows its imports, and
 * every convex.config it reaches besides the app's names a component's folder. Appends to
 * `imports` the entry's imports of each folder's convex.config, schema and modules, and to `defs`
 * the JavaScript array of {definition, schema, modules} that load() matches app.use()'s
 * definitions against (src/js/prelude/54_components.js). 0, or -1 with a message in err. */
int app_components(const struct app_paths *p, const char *config, struct buf *imports,
                   struct buf *defs, struct buf *err);

/* Writes the functions folder's _generated/ files as Convex lays them out (codegen.c):
 * api.js/api.d.ts, server.js/server.d.ts, dataModel.d.ts and vireo.d.ts (the type library they
 * use), each only when its content differs, and removes the server.ts/api.ts an older Vireo
 * wrote. Returns 0 or a negative errno with a message in err. */
int app_write_generated(const struct app_paths *p, struct buf *err);
/* The same for any functions folder (a local component's). */
int app_write_generated_in(const char *functions, struct buf *err);

/* Bundles the functions folder into root/.vireo/bundle.js with esbuild. On failure err holds
 * esbuild's messages (file:line: error). */
int app_bundle(const struct app_paths *p, struct buf *bundle_out, struct buf *err);

/* Reads the whole file at path into out. Returns 0 or a negative errno (-E2BIG past out's max). */
int read_all(const char *path, struct buf *out);
/* dotenv.c: the variables of a .env file as a new JSON object of strings (dotenv syntax; bad
 * lines are logged by number, never their content, and skipped). dotenv_read: NULL when the file
 * does not exist or cannot be read (logged); `file` is the name used in messages. */
json_t *dotenv_parse(const char *text, size_t len, const char *file);
json_t *dotenv_read(const char *path, const char *file);

/* Writes path atomically (base/file.h, not synced: files the CLI can write again), created with
 * `mode`. */
int write_file(const char *path, const char *data, size_t len, mode_t mode);
/* Creates path and its missing parents with `mode`. */
int mkdir_p(const char *path, mode_t mode);
int path_exists(const char *path);
/* Appends the file's content to out: 0, -E2BIG past out's maximum, or -errno. */
int read_file(const char *path, struct buf *out);

/* `vireo build` and `vireo deploy` (cmd_build.c, cmd_deploy.c). */
int cmd_build(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
/* `vireo import` (cmd_import.c). */
int cmd_import(int argc, char **argv);
/* `vireo export` (cmd_export.c). */
int cmd_export(int argc, char **argv);
/* `vireo data` (cmd_data.c). */
int cmd_data(int argc, char **argv);

/* Bundles the app at p into a bundle file (deploy.h's header, then the bundle) in out. */
int app_bundle_file(const struct app_paths *p, struct buf *out, struct buf *err);

#endif
