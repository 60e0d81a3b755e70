/* convex_http: bodies of the Convex shape of the HTTP function API (see convex_http.h and
 * docs/protocol.md "Convex's shape"). Clean JSON export walks the value text token by token:
 * plain numbers are copied as they are, so no number changes its spelling. */
#include "proto/convex_http.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/base64.h"
#include "base/rand.h"

#include "base/banned.h"

#define EXPORT_MAX_DEPTH 200 /* value.h JSON is at most 64 deep; malformed text is refused */

int convex_http_is_convex(const struct http_request *req, const json_t *root)
{
    if (http_header_get(req, "convex-client"))
        return 1;
    return json_is_object(root) && json_object_get(root, "format") != NULL;
}

int convex_http_format(const json_t *format, int has_client, enum convex_format *out,
                       struct buf *err)
{
    if (!format || json_is_null(format)) {
        *out = has_client ? CONVEX_ENCODED : CONVEX_CLEAN;
        return 0;
    }
    const char *s = json_string_value(format);
    if (!s) {
        buf_append_str(err, "\"format\" must be a string: \"json\" or \"convex_encoded_json\"");
        return -2;
    }
    if (strlen(s) == json_string_length(format)) {
        if (!strcmp(s, "convex_encoded_json") || !strcmp(s, "convex_json")) {
            *out = CONVEX_ENCODED;
            return 0;
        }
        if (!strcmp(s, "json") || !strcmp(s, "convex_clean_json")) {
            *out = CONVEX_CLEAN;
            return 0;
        }
    }
    buf_append_str(err, "format param must be one of [`json`]. Got ");
    buf_append(err, s, strnlen(s, 200));
    return -1;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

int convex_http_args(const json_t *args, const json_t **out, struct buf *err)
{
    *out = NULL;
    if (!args || json_is_object(args)) {
        *out = args;
        return 0;
    }
    if (json_is_array(args)) {
        size_t n = json_array_size(args);
        if (n == 1 && json_is_object(json_array_get(args, 0))) {
            *out = json_array_get(args, 0);
            return 0;
        }
        if (n != 1)
            buf_appendf(err,
                        "a Convex function takes exactly one argument, an object; the request's "
                        "\"args\" array has %zu",
                        n);
        else
            buf_appendf(err,
                        "a Convex function's argument must be an object; the request's \"args\" "
                        "array holds %s",
                        json_kind(json_array_get(args, 0)));
        return -1;
    }
    buf_appendf(err,
                "\"args\" must be an object or an array of one object (Convex's shape); got %s",
                json_kind(args));
    return -1;
}

void convex_http_request_id(char out[17])
{
    rand_hex(out, 8);
}

void convex_http_request_error(struct buf *b, const char *code, const char *msg)
{
    buf_append_str(b, "{\"code\":");
    buf_append_json_str(b, code, strlen(code));
    buf_append_str(b, ",\"message\":");
    buf_append_json_str(b, msg, strlen(msg));
    buf_append_str(b, "}");
}

/* --- clean export --- */

struct scan {
    const char *p, *end;
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* A string token's extent (quotes included); -1 if unterminated. */
static int string_token(struct scan *s, const char **start, size_t *len)
{
    if (s->p >= s->end || *s->p != '"')
        return -1;
    const char *q = s->p + 1;
    while (q < s->end && *q != '"') {
        if (*q == '\\')
            q++;
        q++;
    }
    if (q >= s->end)
        return -1;
    *start = s->p;
    *len = (size_t)(q + 1 - s->p);
    s->p = q + 1;
    return 0;
}

static int decode8(const char *tok, size_t len, unsigned char out[8])
{
    unsigned char tmp[16];
    if (len < 2 || len - 2 > 16)
        return -1;
    long n = base64_decode(tmp, tok + 1, len - 2);
    if (n != 8)
        return -1;
    memcpy(out, tmp, 8);
    return 0;
}

/* {"$integer"|"$bytes"|"$float": "<base64>"}: s is just past the key's token */
static int export_wrapper(struct buf *b, struct scan *s, const char *key, size_t klen)
{
    const char *tok;
    size_t len;
    skip_ws(s);
    if (s->p >= s->end || *s->p++ != ':')
        return -1;
    skip_ws(s);
    if (string_token(s, &tok, &len) < 0)
        return -1;
    skip_ws(s);
    if (s->p >= s->end || *s->p++ != '}')
        return -1;
    unsigned char raw[8];
    if (klen == 10 && !memcmp(key, "\"$integer\"", 10)) {
        if (decode8(tok, len, raw) < 0)
            return -1;
        uint64_t u = 0;
        for (int i = 7; i >= 0; i--)
            u = (u << 8) | raw[i];
        buf_appendf(b, "\"%lld\"", (long long)(int64_t)u);
        return 0;
    }
    if (klen == 8 && !memcmp(key, "\"$bytes\"", 8)) {
        buf_append(b, tok, len); /* the base64 string itself */
        return 0;
    }
    if (klen == 8 && !memcmp(key, "\"$float\"", 8)) {
        if (decode8(tok, len, raw) < 0)
            return -1;
        double d;
        memcpy(&d, raw, 8); /* little-endian host */
        if (isnan(d))
            buf_append_str(b, "\"NaN\"");
        else if (isinf(d))
            buf_append_str(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        else if (d == 0)
            buf_append_str(b, signbit(d) ? "-0" : "0");
        else
            buf_appendf(b, "%.17g", d);
        return 0;
    }
    return -1;
}

static int export_clean(struct buf *b, struct scan *s, int depth)
{
    if (depth > EXPORT_MAX_DEPTH)
        return -1;
    skip_ws(s);
    if (s->p >= s->end)
        return -1;
    const char *tok;
    size_t len;
    switch (*s->p) {
    case '"':
        if (string_token(s, &tok, &len) < 0)
            return -1;
        buf_append(b, tok, len);
        return 0;
    case '[':
        s->p++;
        buf_append_byte(b, '[');
        skip_ws(s);
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            buf_append_byte(b, ']');
            return 0;
        }
        for (;;) {
            if (export_clean(b, s, depth + 1) < 0)
                return -1;
            skip_ws(s);
            if (s->p >= s->end)
                return -1;
            char c = *s->p++;
            buf_append_byte(b, (unsigned char)c);
            if (c == ']')
                return 0;
            if (c != ',')
                return -1;
        }
    case '{':
        s->p++;
        skip_ws(s);
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            buf_append_str(b, "{}");
            return 0;
        }
        /* a field name never starts with '$' (value.h): such an object is a wrapper */
        if (string_token(s, &tok, &len) < 0)
            return -1;
        if (len > 2 && tok[1] == '$')
            return export_wrapper(b, s, tok, len);
        buf_append_byte(b, '{');
        for (;;) {
            buf_append(b, tok, len);
            skip_ws(s);
            if (s->p >= s->end || *s->p++ != ':')
                return -1;
            buf_append_byte(b, ':');
            if (export_clean(b, s, depth + 1) < 0)
                return -1;
            skip_ws(s);
            if (s->p >= s->end)
                return -1;
            char c = *s->p++;
            buf_append_byte(b, (unsigned char)c);
            if (c == '}')
                return 0;
            if (c != ',')
                return -1;
            skip_ws(s);
            if (string_token(s, &tok, &len) < 0)
                return -1;
        }
    default: {
        /* a number, true, false or null: copied as it is */
        const char *start = s->p;
        while (s->p < s->end && *s->p != ',' && *s->p != ']' && *s->p != '}' && *s->p != ' ' &&
               *s->p != '\n' && *s->p != '\t' && *s->p != '\r')
            s->p++;
        if (s->p == start)
            return -1;
        buf_append(b, start, (size_t)(s->p - start));
        return 0;
    }
    }
}

int convex_http_export(struct buf *b, const char *json, size_t len, enum convex_format f)
{
    if (f == CONVEX_ENCODED)
        return buf_append(b, json, len) < 0 ? -1 : 0;
    size_t mark = b->len;
    struct scan s = { json, json + len };
    int r = export_clean(b, &s, 0);
    skip_ws(&s);
    if (r < 0 || s.p != s.end) {
        b->len = mark;
        b->data[mark] = '\0';
        return -1;
    }
    return 0;
}

/* --- answers --- */

static void append_logs(struct buf *b, const struct js_result *res)
{
    if (!res || !res->log_count)
        return;
    buf_append_str(b, ",\"logLines\":");
    js_result_log_json(res, b);
}

void convex_http_error_body(struct buf *b, const char *request_id, const char *text,
                            const char *data, size_t data_len, enum convex_format f,
                            const struct js_result *res)
{
    struct buf m = BUF_INIT(BUF_NOLIMIT);
    buf_appendf(&m, "[Request ID: %s] Server Error\n%s\n", request_id, text);
    buf_append_str(b, "{\"status\":\"error\",\"errorMessage\":");
    buf_append_json_str(b, m.data, m.len);
    buf_release(&m);
    if (data && data_len) {
        buf_append_str(b, ",\"errorData\":");
        if (convex_http_export(b, data, data_len, f) < 0)
            buf_append_str(b, "null");
    }
    append_logs(b, res);
    buf_append_str(b, "}");
}

void convex_http_uncaught(struct buf *out, const char *code, const char *name, const char *msg,
                          size_t msg_len)
{
    int convex = !strcmp(code, "VireoError");
    if (!name || !*name) {
        /* a thrown value that is not an Error says "Uncaught ..." itself */
        if (!convex && msg_len >= 9 && !memcmp(msg, "Uncaught ", 9))
            return;
        name = convex ? "ConvexError" : "Error";
    }
    buf_appendf(out, "Uncaught %s: ", name);
}

void convex_http_result_text(struct buf *out, const struct js_result *res)
{
    if (res->status == JS_ERR_ARGS)
        buf_append_str(out, "ArgumentValidationError: ");
    else if (res->status == JS_ERR_THROWN)
        convex_http_uncaught(out, res->error_code.data, res->error_name.data, res->error.data,
                             res->error.len);
    buf_append(out, res->error.data, res->error.len);
}

int convex_http_call_body(struct buf *b, const char *request_id, const struct js_result *res,
                          enum convex_format f)
{
    if (res->status != JS_OK) {
        struct buf text = BUF_INIT(BUF_NOLIMIT);
        convex_http_result_text(&text, res);
        convex_http_error_body(b, request_id, text.data, res->error_data.data,
                               res->error_data.len, f, res);
        buf_release(&text);
        return CONVEX_STATUS_FUNCTION_FAILED;
    }
    buf_append_str(b, "{\"status\":\"success\",\"value\":");
    if (convex_http_export(b, res->value.data, res->value.len, f) < 0)
        buf_append_str(b, "null");
    append_logs(b, res);
    buf_append_str(b, "}");
    return 200;
}
