/* main: `vireo <command>`; dispatches to the commands in src/cli. The only place that exits. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "cli/cli.h"
#include "base/banned.h"

static const char usage[] =
    "vireo: a self-hosted real-time backend (schema, functions and live queries in one binary)\n"
    "\n"
    "usage: vireo <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  init [dir]                    scaffold an app: dir/vireo/schema.ts, dir/vireo/tasks.ts\n"
    "  dev [dir] [--port N]          bundle dir/convex (or dir/vireo), serve it on\n"
    "                                http://127.0.0.1:8788 and\n"
    "                                reload on every change\n"
    "  serve [dir] [--port N]        bundle once and serve (production: no watching);\n"
    "                                --bundle FILE serves a `vireo build` file (no Node needed)\n"
    "  build [dir] [--out FILE]      bundle the app into one file for serve --bundle / deploy\n"
    "  deploy [dir] [--url URL]      push a new version of the app to a running server\n"
    "  codegen [dir]                 write the typed import files in the functions folder's\n"
    "                                _generated/ (api, server, dataModel; for tsc and editors)\n"
    "  run <function> [jsonArgs]     call a function on a running server, internal ones too\n"
    "  env set|get|list|remove       the app's environment variables (process.env) on a\n"
    "                                running server\n"
    "  actors list|inspect|destroy   the live actor instances of a running server\n"
    "  import [--table T] PATH       import a .jsonl/.json/.csv file into a table, or a ZIP\n"
    "                                snapshot (Convex's export) into a running server\n"
    "  export --path FILE            a snapshot of a running server's tables as a ZIP\n"
    "  data [table]                  a running server's tables, or a table's documents\n"
    "  reset [dir]                   delete the app's local data\n"
    "  admin-key [dir]               print the app's admin key (`vireo run` and the admin API\n"
    "                                use it)\n"
    "  help [command]                show help for a command\n"
    "\n"
    "'vireo <command> --help' shows a command's options.\n";

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    /* jansson allocates with the one allocator: out of memory aborts there too (base/mem.h),
     * so no json_pack/json_dumps result is NULL for want of memory */
    json_set_alloc_funcs(vr_malloc, vr_free);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    char *help_argv[] = { argv[0], NULL, "--help", NULL };
    if (!strcmp(cmd, "help")) {
        if (argc < 3) {
            fputs(usage, stdout);
            return 0;
        }
        cmd = help_argv[1] = argv[2];
        argc = 3;
        argv = help_argv;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        puts("vireo 0.1.0");
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = { { "init", cmd_init },   { "codegen", cmd_codegen },     { "run", cmd_run },
                 { "reset", cmd_reset }, { "admin-key", cmd_admin_key }, { "env", cmd_env },
                 { "build", cmd_build }, { "deploy", cmd_deploy }, { "actors", cmd_actors },
                 { "import", cmd_import }, { "export", cmd_export }, { "data", cmd_data } };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(cmd, cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    if (!strcmp(cmd, "dev") || !strcmp(cmd, "serve"))
        return cmd_dev(argc - 1, argv + 1, !strcmp(cmd, "dev"));
    fprintf(stderr, "vireo: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
