/* static_client: looks up the JavaScript client files embedded in the binary (see
 * static_client.h). Only exact base names from the table match, so no request path can reach
 * anything else. */
#include "proto/static_client.h"

#include <string.h>

#include "base/banned.h"

const struct embedded_file *static_client_find(struct slice name)
{
    for (size_t i = 0; i < vr_client_js_count; i++)
        if (slice_eq_str(name, vr_client_js[i].name))
            return &vr_client_js[i];
    return NULL;
}
