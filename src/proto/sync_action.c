/* sync_action: an action a client asked for over either sync protocol (/api/sync in sync.c,
 * Convex's in convex_sync.c), checked and queued to the action pool; when it finishes, its answer
 * is queued to the session that asked, if that session still exists (it may have been freed, or
 * replaced by a new session with the same id: it is found by id and serial). Each protocol words
 * its own frames (struct sync_action_frames). */
#include "proto/sync_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "proto/actions.h"
#include "proto/shard.h"
#include "base/banned.h"

struct sync_action {
    struct sync *sync;
    char *session_id;
    uint64_t serial;
    const struct sync_action_frames *frames;
    char rid[64];
};

static void action_free(struct sync_action *a)
{
    vr_free(a->session_id);
    vr_free(a);
}

static void action_done(void *arg, const struct js_result *res)
{
    struct sync_action *a = arg;
    struct sync_session *s = hmap_get(&a->sync->sessions, a->session_id, strlen(a->session_id));
    if (s && s->serial == a->serial) {
        /* queued like any response: the flush first moves the session to the store's version,
         * which includes every mutation the action ran (each answered only once committed) */
        struct buf frame = BUF_INIT(BUF_NOLIMIT);
        a->frames->done(&frame, a->rid, res);
        sync_queue_response(s, &frame, a->rid, JS_ACTION, 0);
        buf_release(&frame);
    }
    action_free(a);
}

int sync_action_submit(struct sync_conn *c, const struct js_function *fn, const char *args,
                       const json_t *args_value, const char *rid,
                       const struct sync_action_frames *frames, struct buf *frame)
{
    struct sync *sy = c->sync;
    struct buf err = BUF_INIT(64 * 1024);
    int rc = -1;
    if (js_runtime_check_args(sy->shard->rt, fn, args, strlen(args), args_value, &err) < 0) {
        frames->refused(frame, rid, "ArgumentValidationError", err.data, err.len, 0);
        goto out;
    }
    struct sync_action *a = vr_calloc(1, sizeof *a);
    a->sync = sy;
    a->session_id = vr_strdup(c->session->id);
    a->serial = c->session->serial;
    a->frames = frames;
    snprintf(a->rid, sizeof a->rid, "%s", rid);
    struct js_request req;
    sync_call_request(c->session, c, &req);
    int r = action_pool_submit(sy->shard->actions, fn, args, strlen(args), c->session->identity,
                               &req, action_done, a);
    if (r == 0) {
        rc = 0;
        goto out;
    }
    action_free(a);
    const char *m = r == -EAGAIN ? "too many actions are queued or running; retry later"
                                 : "the server is shutting down";
    frames->refused(frame, rid, r == -EAGAIN ? "ServerOverloaded" : "ServerShuttingDown", m,
                    strlen(m), 1);
out:
    buf_release(&err);
    return rc;
}
