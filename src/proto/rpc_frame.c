/* rpc_frame: the usual actor rpc frame read without building jansson values (rpc_frame.h). */
#include "proto/rpc_frame.h"

#include <string.h>

#include "base/json_parse.h"

#include "base/banned.h"

#define ID_DIGITS_MAX 15 /* an integer id jansson reads exactly (below 2^53) */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* A string of printable ASCII without escapes at p: its bytes in *s, and the position after it;
 * NULL for anything else. */
static const char *plain_str(const char *p, const char *e, struct rpc_span *s)
{
    if (p >= e || *p != '"')
        return NULL;
    const char *q = ++p;
    while (q < e && *q != '"') {
        unsigned char ch = (unsigned char)*q;
        if (ch < 0x20 || ch > 0x7e || ch == '\\')
            return NULL;
        q++;
    }
    if (q >= e)
        return NULL;
    s->p = p;
    s->n = (size_t)(q - p);
    return q + 1;
}

/* The end of the string whose opening quote is at p, or NULL. */
static const char *str_end(const char *p, const char *e)
{
    for (p++; p < e && *p != '"'; p++)
        if (*p == '\\')
            p++;
    return p < e ? p + 1 : NULL;
}

/* Where the JSON value at p ends (its brackets and strings followed, nothing else checked:
 * json_parse_fast checks it), or NULL. */
static const char *value_end(const char *p, const char *e)
{
    if (p >= e)
        return NULL;
    if (*p == '"')
        return str_end(p, e);
    if (*p != '{' && *p != '[') {
        while (p < e && *p != ',' && *p != '}' && *p != ' ' && *p != '\t' && *p != '\n' &&
               *p != '\r')
            p++;
        return p;
    }
    size_t depth = 0;
    while (p < e) {
        if (*p == '"') {
            if (!(p = str_end(p, e)))
                return NULL;
            continue;
        }
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (--depth == 0)
                return p + 1;
        }
        p++;
    }
    return NULL;
}

static int key_is(const struct rpc_span *k, const char *name)
{
    size_t n = strlen(name);
    return k->n == n && !memcmp(k->p, name, n);
}

int rpc_frame_scan(const char *p, size_t n, struct rpc_frame *f)
{
    const char *e = p + n;
    int have_type = 0;
    memset(f, 0, sizeof *f);
    p = skip_ws(p, e);
    if (p >= e || *p != '{')
        return 0;
    p = skip_ws(p + 1, e);
    for (;;) {
        struct rpc_span key, *slot;
        if (!(p = plain_str(p, e, &key)))
            return 0;
        p = skip_ws(p, e);
        if (p >= e || *p != ':')
            return 0;
        p = skip_ws(p + 1, e);
        if (key_is(&key, "type")) {
            struct rpc_span t;
            if (have_type || !(p = plain_str(p, e, &t)) || !key_is(&t, "rpc"))
                return 0;
            have_type = 1;
        } else if (key_is(&key, "id")) {
            const char *q = p;
            while (q < e && *q >= '0' && *q <= '9')
                q++;
            size_t d = (size_t)(q - p);
            if (f->id.p || d == 0 || d > ID_DIGITS_MAX || (d > 1 && *p == '0'))
                return 0;
            f->id.p = p;
            f->id.n = d;
            p = q; /* a fraction or an exponent fails the check for ',' or '}' below */
        } else if (key_is(&key, "input")) {
            const char *q = value_end(p, e);
            if (f->input.p || !q || q == p)
                return 0;
            json_t *v = json_parse_fast(p, (size_t)(q - p), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY);
            if (!v)
                return 0;
            json_decref(v);
            f->input.p = p;
            f->input.n = (size_t)(q - p);
            p = q;
        } else {
            slot = key_is(&key, "actor") ? &f->actor
                   : key_is(&key, "actorId") ? &f->actor_id
                   : key_is(&key, "method") ? &f->method : NULL;
            if (!slot || slot->p || !(p = plain_str(p, e, slot)))
                return 0;
        }
        p = skip_ws(p, e);
        if (p >= e)
            return 0;
        if (*p == '}')
            break;
        if (*p != ',')
            return 0;
        p = skip_ws(p + 1, e);
    }
    p = skip_ws(p + 1, e);
    return p == e && have_type && f->id.p && f->actor.p && f->actor_id.p && f->method.p;
}
