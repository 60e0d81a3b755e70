/* reply: the error fields every answer to a client shares, over HTTP and the sync protocol:
 * "errorMessage", "errorCode" and, for VireoError, "errorData" (docs/protocol.md). */
#ifndef VR_PROTO_REPLY_H
#define VR_PROTO_REPLY_H

#include <stddef.h>

#include "base/buf.h"
#include "js/runtime.h"

/* Appends "errorMessage":...,"errorCode":...[,"errorData":...] (no braces); data_json is raw
 * JSON, omitted when empty. */
void reply_error_fields(struct buf *b, const char *code, const char *msg, size_t msg_len,
                        const char *data_json, size_t data_len);

/* The same for a failed call: its message, code (FunctionFailed when it has none) and data. */
void reply_result_error(struct buf *b, const struct js_result *r);

#endif
