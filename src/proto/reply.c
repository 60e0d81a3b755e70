/* reply: error fields shared by the HTTP API and the sync protocol. */
#include "proto/reply.h"

#include <string.h>

#include "base/banned.h"

void reply_error_fields(struct buf *b, const char *code, const char *msg, size_t msg_len,
                        const char *data_json, size_t data_len)
{
    buf_append_str(b, "\"errorMessage\":");
    buf_append_json_str(b, msg, msg_len);
    buf_append_str(b, ",\"errorCode\":");
    buf_append_json_str(b, code, strlen(code));
    if (data_json && data_len) {
        buf_append_str(b, ",\"errorData\":");
        buf_append(b, data_json, data_len);
    }
}

void reply_result_error(struct buf *b, const struct js_result *r)
{
    const char *code = r->error_code.len ? r->error_code.data : "FunctionFailed";
    reply_error_fields(b, code, r->error.data, r->error.len, r->error_data.data, r->error_data.len);
    /* the class of what was thrown, when it says more than the code's default */
    if (r->status == JS_ERR_THROWN && r->error_name.len && strcmp(r->error_name.data, "Error") &&
        strcmp(r->error_name.data, "ConvexError")) {
        buf_append_str(b, ",\"errorName\":");
        buf_append_json_str(b, r->error_name.data, r->error_name.len);
    }
}
