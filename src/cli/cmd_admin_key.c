/* cmd_admin_key: `vireo admin-key [dir]` prints the app's admin key (dir/.vireo/admin_key),
 * creating it if the app has none yet. `vireo serve` prints the key only on the start that
 * created it, so that it does not land in every service log; this is how to see it again. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "base/banned.h"

static const char admin_key_usage[] =
    "usage: vireo admin-key [dir]\n"
    "\n"
    "Prints the admin key of the app in dir (default .), which `vireo run` and the admin API\n"
    "(Authorization: Bearer <key>) need. Creates it (dir/.vireo/admin_key, mode 0600) if the\n"
    "app has none yet.\n";

int cmd_admin_key(int argc, char **argv)
{
    const char *dir = ".";
    int ndirs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(admin_key_usage, stdout);
            return 0;
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "vireo admin-key: unknown option %s\n", argv[i]);
            return 2;
        }
        if (ndirs++) {
            fprintf(stderr, "vireo admin-key: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
        dir = argv[i];
    }
    struct app_paths p;
    if (app_paths_init(&p, dir) < 0) {
        fprintf(stderr, "vireo admin-key: cannot open app folder %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char key[65];
    struct buf err = BUF_INIT(8192);
    if (app_check_functions(&p, &err) < 0) {
        fprintf(stderr, "vireo admin-key: %s\n", err.data);
        buf_release(&err);
        return 1;
    }
    int r = app_admin_key(&p, 1, key, &err);
    if (r < 0)
        fprintf(stderr, "vireo admin-key: %s\n", err.data);
    buf_release(&err);
    if (r < 0)
        return 1;
    printf("%s\n", key);
    return 0;
}
