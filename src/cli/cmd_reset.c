/* cmd_reset: `vireo reset [dir]` deletes the app's local data (dir/.vireo/data), refusing while
 * a server holds the data lock. The admin key and the bundle stay. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli/cli.h"
#include "base/banned.h"

static const char reset_usage[] =
    "usage: vireo reset [dir]\n"
    "\n"
    "Deletes the local database of the app in dir (default .): every document and every table.\n"
    "Stop the server first; restart it afterwards to start with an empty database.\n";

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path) < 0 ? -1 : 0;
}

int cmd_reset(int argc, char **argv)
{
    const char *dir = ".";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(reset_usage, stdout);
            return 0;
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "vireo reset: unknown option %s\n", argv[i]);
            return 2;
        }
        dir = argv[i];
    }
    struct app_paths p;
    if (app_paths_init(&p, dir) < 0) {
        fprintf(stderr, "vireo reset: cannot open %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (!path_exists(p.data)) {
        printf("no local data in %s\n", p.root);
        return 0;
    }
    char lock_path[4400];
    snprintf(lock_path, sizeof lock_path, "%s/lock", p.data);
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        fprintf(stderr, "vireo reset: a vireo server is running on %s; stop it first\n", p.root);
        close(fd);
        return 1;
    }
    int r = nftw(p.data, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (fd >= 0)
        close(fd);
    if (r < 0) {
        fprintf(stderr, "vireo reset: cannot delete %s: %s\n", p.data, strerror(errno));
        return 1;
    }
    printf("deleted %s\n", p.data);
    return 0;
}
