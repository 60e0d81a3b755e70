/* static_client: the JavaScript client package (the .js files of clients/js/src/), embedded into
 * the binary at build time (tools/embed.c --table, build/.../gen/client_js.c) so browsers can
 * import it from GET /_vireo/client/<file>.js without a build step. The table is read-only. */
#ifndef VIREO_PROTO_STATIC_CLIENT_H
#define VIREO_PROTO_STATIC_CLIENT_H

#include <stddef.h>

#include "base/slice.h"

#define STATIC_CLIENT_PREFIX "/_vireo/client/"

/* Same layout as the struct tools/embed.c writes into the generated file. */
struct embedded_file {
    const char *name; /* base name, e.g. "index.js" */
    const char *data; /* NUL-terminated */
    size_t len;       /* without the NUL */
};

extern const struct embedded_file vr_client_js[];
extern const size_t vr_client_js_count;

/* The embedded file named `name` (a base name, compared exactly), or NULL. */
const struct embedded_file *static_client_find(struct slice name);

#endif
