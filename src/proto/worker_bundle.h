/* worker_bundle: one version of the app — the bundle's text, its file name and process.env as
 * JSON — shared by reference between the loop thread and the worker threads that load it into
 * runtimes of their own (action workers, query readers). A pool swaps in a new one on every load
 * and bumps its generation; the reference count is changed only under that pool's mutex. */
#ifndef VR_PROTO_WORKER_BUNDLE_H
#define VR_PROTO_WORKER_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

struct worker_bundle {
    unsigned refs; /* under the owning pool's mutex */
    uint64_t gen;  /* the pool's generation it was loaded as */
    char *text;
    size_t len;
    char *name;
    char *env; /* process.env as JSON (js_options.env_json), or NULL */
};

/* Copies everything it is given; one reference. name NULL: "bundle.js". */
struct worker_bundle *worker_bundle_new(const char *text, size_t len, const char *name,
                                        const char *env_json);

/* Drops one reference (NULL is fine); frees it with the last. Under the owning pool's mutex. */
void worker_bundle_unref(struct worker_bundle *b);

#endif
