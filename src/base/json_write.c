/* json_write: compact JSON text with short numbers (json_write.h). */
#include "base/json_write.h"

#include <inttypes.h>
#include <string.h>

#include "base/numfmt.h"
#include "base/banned.h"

int json_write(struct buf *out, const json_t *v, int flags)
{
    char num[NUMFMT_MAX];
    int r = 0;
    switch (json_typeof(v)) {
    case JSON_REAL: {
        size_t n = numfmt_double(num, json_real_value(v));
        r = buf_append(out, num, n);
        if (!r && (flags & JSON_WRITE_REAL_DOT) && !strpbrk(num, ".eEni")) /* not nan, inf */
            r = buf_append(out, ".0", 2);
        return r;
    }
    case JSON_INTEGER:
        return buf_appendf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_STRING:
        return buf_append_json_str(out, json_string_value(v), json_string_length(v));
    case JSON_TRUE:
        return buf_append(out, "true", 4);
    case JSON_FALSE:
        return buf_append(out, "false", 5);
    case JSON_NULL:
        return buf_append(out, "null", 4);
    case JSON_ARRAY:
        r = buf_append_byte(out, '[');
        for (size_t i = 0; !r && i < json_array_size(v); i++) {
            if (i)
                r = buf_append_byte(out, ',');
            if (!r)
                r = json_write(out, json_array_get(v, i), flags);
        }
        return r ? r : buf_append_byte(out, ']');
    case JSON_OBJECT:
        break;
    }
    const char *k;
    json_t *x;
    int first = 1;
    r = buf_append_byte(out, '{');
    json_object_foreach((json_t *)v, k, x)
    {
        if (!r && !first)
            r = buf_append_byte(out, ',');
        first = 0;
        if (!r)
            r = buf_append_json_str(out, k, strlen(k));
        if (!r)
            r = buf_append_byte(out, ':');
        if (!r)
            r = json_write(out, x, flags);
    }
    return r ? r : buf_append_byte(out, '}');
}
