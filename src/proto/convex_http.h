/* convex_http: the Convex shape of the HTTP function API, as the official `ConvexHttpClient`
 * speaks it: requests {"path", "format", "args": [{...}]}; answers
 * {"status":"success","value",["logLines"]} (HTTP 200) and
 * {"status":"error","errorMessage","errorData"?,"logLines"?} (HTTP 560 when the function failed),
 * and {"code","message"} bodies for a request refused before any function ran. Builds bodies only;
 * http_api.c decides the shape (once per request) and sends them. */
#ifndef VR_PROTO_CONVEX_HTTP_H
#define VR_PROTO_CONVEX_HTTP_H

#include <jansson.h>

#include "base/buf.h"
#include "js/runtime.h"
#include "net/http.h"

#define CONVEX_STATUS_FUNCTION_FAILED 560

enum convex_format {
    CONVEX_ENCODED, /* "convex_encoded_json": values as Vireo keeps them ($integer, $bytes, ...) */
    CONVEX_CLEAN    /* "json": int64 as a decimal string, bytes as base64, NaN as "NaN", ... */
};

/* 1 if the request is Convex-shaped: it has a Convex-Client header (ConvexHttpClient sends one),
 * or its body (root; NULL when it did not parse) is an object with a "format" field. */
int convex_http_is_convex(const struct http_request *req, const json_t *root);

/* The value format a Convex-shaped request asked for: its "format" (NULL or null: none given;
 * then encoded for a client that sends Convex-Client, clean JSON otherwise, as Convex does). 0;
 * -1 (an unknown name: Convex's BadFormat message in err) or -2 (not a string: BadJsonBody). */
int convex_http_format(const json_t *format, int has_client, enum convex_format *out,
                       struct buf *err);

/* The arguments object of a Convex-shaped request: "args" absent (*out = NULL: {}) or an object,
 * or an array of exactly one object (what ConvexHttpClient sends). 0, or -1 with the reason in
 * err (anything else: an array of 0 or 2 elements, a string, null, ...). */
int convex_http_args(const json_t *args, const json_t **out, struct buf *err);

/* 16 hex digits, as Convex's request ids. */
void convex_http_request_id(char out[17]);

/* Appends {"code":...,"message":...}. */
void convex_http_request_error(struct buf *b, const char *code, const char *msg);

/* Appends value.h JSON (json, len) in format f. -1 if it is not well-formed value JSON. */
int convex_http_export(struct buf *b, const char *json, size_t len, enum convex_format f);

/* Appends the error answer for a function error: errorMessage is
 * "[Request ID: <id>] Server Error\n<text>\n" as Convex formats it; errorData (value.h JSON, may
 * be NULL/empty) is exported in f; logLines from res when it has any (res may be NULL). */
void convex_http_error_body(struct buf *b, const char *request_id, const char *text,
                            const char *data, size_t data_len, enum convex_format f,
                            const struct js_result *res);

/* The text Convex gives a failed call's error ("Uncaught Error: boom", "Uncaught TypeError: ...",
 * "Uncaught ConvexError: ...", "ArgumentValidationError: ..."), appended to out. */
void convex_http_result_text(struct buf *out, const struct js_result *res);
/* Its "Uncaught <name>: " for what a function threw: error code `code`, the Error's name (NULL or
 * "": Error, or ConvexError for code "VireoError"); nothing for a thrown value that is not an
 * Error, whose message (msg) already says "Uncaught ...". */
void convex_http_uncaught(struct buf *out, const char *code, const char *name, const char *msg,
                          size_t msg_len);

/* Appends the answer to a finished call (res->status JS_OK: success, else the error answer) and
 * returns its HTTP status: 200, or 560. */
int convex_http_call_body(struct buf *b, const char *request_id, const struct js_result *res,
                          enum convex_format f);

#endif
