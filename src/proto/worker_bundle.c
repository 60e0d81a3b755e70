/* worker_bundle: the app version worker threads load (worker_bundle.h). */
#include "proto/worker_bundle.h"

#include "base/mem.h"
#include "base/banned.h"

struct worker_bundle *worker_bundle_new(const char *text, size_t len, const char *name,
                                        const char *env_json)
{
    struct worker_bundle *b = vr_calloc(1, sizeof *b);
    b->refs = 1;
    b->text = vr_memdup(text, len);
    b->len = len;
    b->name = vr_strdup(name ? name : "bundle.js");
    b->env = env_json ? vr_strdup(env_json) : NULL;
    return b;
}

void worker_bundle_unref(struct worker_bundle *b)
{
    if (!b || --b->refs)
        return;
    vr_free(b->text);
    vr_free(b->name);
    vr_free(b->env);
    vr_free(b);
}
