/* env_reloader: what builds the app again off the loop thread after an environment change
 * (http_admin_env.c): the single shard's deployer (deployer.h) or, with --tenants, the registry
 * for one tenant (tenants.c). reload(impl, c, done, arg) returns 0 and later calls
 * done(c, arg, load_err) on the loop once the new version serves (load_err NULL) or could not
 * be built (the old one keeps serving; load_err says why), c referenced meanwhile; or -1 when it
 * cannot take it now (a version is loading): the change then reloads on the loop. busy(impl): 1
 * when reload would return -1. impl NULL: none (every change reloads on the loop). */
#ifndef VR_PROTO_ENV_RELOADER_H
#define VR_PROTO_ENV_RELOADER_H

struct conn;

typedef void (*env_reloaded_fn)(struct conn *c, void *arg, const char *load_err);

struct env_reloader {
    int (*reload)(void *impl, struct conn *c, env_reloaded_fn done, void *arg);
    int (*busy)(void *impl);
    void *impl;
};

/* the answer's load_err when the server stops before the new version serves */
#define ENV_RELOAD_STOPPED                                                                         \
    "the server is shutting down: the change is stored, and the next start loads the app with it"

#endif
