/* cmd_admin_key: `vireo admin-key [dir]` prints the app's admin key (dir/.vireo/admin_key),
 * creating it if the app has none yet. `vireo serve` prints the key only on the start that
 * created it, so that it does not land in every service log; this is how to see it again.
 * `--rotate` replaces it: through the running server (`--url`: it saves the new key and drops
 * the old one at once, no restart), or in the file when no server runs for the app. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/file.h"
#include "base/rand.h"
#include "cli/cli.h"
#include "base/banned.h"

static const char admin_key_usage[] =
    "usage: vireo admin-key [dir]\n"
    "       vireo admin-key --rotate [--url URL] [dir]\n"
    "\n"
    "Prints the admin key of the app in dir (default .), which `vireo run` and the admin API\n"
    "(Authorization: Bearer <key>) need. Creates it (dir/.vireo/admin_key, mode 0600) if the\n"
    "app has none yet.\n"
    "\n"
    "--rotate makes a new key and prints it; the old one stops working at once. With --url, the\n"
    "server running there (authorized by the current key) saves and uses the new key without a\n"
    "restart; without it, the key file is replaced, which only works while no server runs for\n"
    "the app (one that does is found by its lock and named in the error).\n";

/* Whether a server holds the app's lock (.vireo/data/lock): 1, 0, or -errno. */
static int server_running(const struct app_paths *p)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/lock", p->data);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    int held = flock(fd, LOCK_EX | LOCK_NB) < 0;
    int e = errno;
    close(fd);
    if (held && e != EWOULDBLOCK)
        return -e;
    return held;
}

static int rotate_remote(const struct app_paths *p, const char *url)
{
    char key[65];
    struct buf resp = BUF_INIT(1 << 16);
    long status = 0;
    const char *k = admin_find_key("admin-key", getenv("VIREO_ADMIN_KEY"), p->root, key);
    int rc = 1;
    if (!k || admin_post("admin-key", url, k, "/api/admin/rotate-key", "{}", &resp, &status) < 0)
        goto out;
    json_t *j = json_loadb(resp.data, resp.len, 0, NULL);
    const char *fresh = json_string_value(json_object_get(j, "adminKey"));
    if (status == 200 && fresh) {
        printf("%s\n", fresh);
        rc = 0;
    } else {
        const char *msg = json_string_value(json_object_get(j, "errorMessage"));
        fprintf(stderr, "vireo admin-key: the server refused (HTTP %ld): %s\n", status,
                msg ? msg : resp.data);
    }
    json_decref(j);
out:
    buf_release(&resp);
    return rc;
}

static int rotate_local(const struct app_paths *p)
{
    int running = server_running(p);
    if (running != 0) {
        if (running > 0)
            fprintf(stderr, "vireo admin-key: a server is running for %s; rotate through it: "
                            "vireo admin-key --rotate --url http://HOST:PORT\n", p->root);
        else
            fprintf(stderr, "vireo admin-key: cannot check %s/lock: %s\n", p->data,
                    strerror(-running));
        return 1;
    }
    char key[65], path[4400], line[80];
    int r = app_state_dirs(p);
    if (r < 0) {
        fprintf(stderr, "vireo admin-key: cannot create %s: %s\n", p->state, strerror(-r));
        return 1;
    }
    rand_hex(key, 32);
    snprintf(path, sizeof path, "%s/admin_key", p->state);
    int n = snprintf(line, sizeof line, "%s\n", key);
    r = file_write_atomic(path, line, (size_t)n, 0600, 1);
    if (r < 0) {
        fprintf(stderr, "vireo admin-key: cannot write %s: %s\n", path, strerror(-r));
        return 1;
    }
    printf("%s\n", key);
    return 0;
}

int cmd_admin_key(int argc, char **argv)
{
    const char *dir = ".", *url = NULL;
    int ndirs = 0, rotate = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(admin_key_usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--rotate")) {
            rotate = 1;
            continue;
        }
        if (!strcmp(argv[i], "--url")) {
            if (++i == argc) {
                fprintf(stderr, "vireo admin-key: --url needs a value\n");
                return 2;
            }
            url = argv[i];
            continue;
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
    if (url && !rotate) {
        fprintf(stderr, "vireo admin-key: --url goes with --rotate\n");
        return 2;
    }
    if (rotate)
        return url ? rotate_remote(&p, url) : rotate_local(&p);
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
