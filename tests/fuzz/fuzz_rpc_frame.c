/* fuzz_rpc_frame: libFuzzer target for proto/rpc_frame. Whatever rpc_frame_scan accepts, jansson
 * (as actors.c parses a message: JSON_REJECT_DUPLICATES) must read to an object with exactly the
 * fields it found: type "rpc", the id as that integer, the same actor, actorId and method, and
 * the input equal to its text read alone. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proto/rpc_frame.h"

#include "base/banned.h"

static void same_str(json_t *o, const char *key, const struct rpc_span *s)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) != s->n || memcmp(json_string_value(v), s->p, s->n))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct rpc_frame f;
    if (!rpc_frame_scan(p, size, &f))
        return 0;
    json_t *o = json_loadb(p, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o) || json_object_size(o) != 5u + (f.input.p != NULL))
        abort();
    json_t *type = json_object_get(o, "type");
    if (!json_is_string(type) || strcmp(json_string_value(type), "rpc"))
        abort();
    json_t *id = json_object_get(o, "id");
    char digits[32];
    if (!json_is_integer(id) || f.id.n >= sizeof digits)
        abort();
    memcpy(digits, f.id.p, f.id.n);
    digits[f.id.n] = '\0';
    if (json_integer_value(id) != strtoll(digits, NULL, 10))
        abort();
    same_str(o, "actor", &f.actor);
    same_str(o, "actorId", &f.actor_id);
    same_str(o, "method", &f.method);
    if (f.input.p) {
        json_t *alone = json_loadb(f.input.p, f.input.n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
        if (!alone || !json_equal(alone, json_object_get(o, "input")))
            abort();
        json_decref(alone);
    }
    json_decref(o);
    return 0;
}
