/* store_memo: the last replaced document's head, length and index keys (struct st_memo), so that
 * replacing it again in the same batch needs no read: no SELECT, no parse of its indexed fields,
 * no second computation of its old index keys. Correctness rests on retiring the memo whenever
 * the stored row could differ from what it recorded: another row change moves
 * sqlite3_total_changes, and everything that can undo a write without a row change (a rolled
 * back transaction, a batch's end, a catalog reload) calls st_memo_forget. */
#include "store/store_int.h"

#include <string.h>

#include "base/banned.h"

void st_memo_forget(struct store *s)
{
    s->memo_epoch++;
}

const struct st_memo *st_memo_get(struct store *s, const char *id, size_t len)
{
    const struct st_memo *m = &s->memo;
    if (!m->set || !s->batch || m->epoch != s->memo_epoch || len != STORE_ID_LEN ||
        memcmp(m->id, id, STORE_ID_LEN) != 0 || m->tb->nidx != m->nidx || m->tb->nsidx ||
        sqlite3_total_changes(s->db) != m->changes)
        return NULL;
    return m;
}

void st_memo_keep(struct store *s, const char *id, struct st_table *tb, double ct,
                  const char *head, size_t head_len, size_t text_len, const struct buf *keys)
{
    struct st_memo *m = &s->memo;
    m->set = 0;
    if (!s->batch || tb->nsidx)
        return;
    if (!m->head.max) { /* the store is calloc'ed: first use */
        buf_init(&m->head, BUF_NOLIMIT);
        buf_init(&m->keys, BUF_NOLIMIT);
    }
    buf_reset(&m->head);
    buf_reset(&m->keys);
    if (buf_append(&m->head, head, head_len) < 0 || buf_append(&m->keys, keys->data, keys->len) < 0)
        return;
    memcpy(m->id, id, STORE_ID_LEN);
    m->id[STORE_ID_LEN] = '\0';
    m->tb = tb;
    m->nidx = tb->nidx;
    m->ct = ct;
    m->text_len = text_len;
    m->epoch = s->memo_epoch;
    m->changes = sqlite3_total_changes(s->db);
    m->set = 1;
}

void st_memo_replaced(struct store *s, size_t text_len)
{
    s->memo.text_len = text_len;
    s->memo.changes = sqlite3_total_changes(s->db);
}

void st_memo_release(struct store *s)
{
    if (!s->memo.head.max)
        return;
    buf_release(&s->memo.head);
    buf_release(&s->memo.keys);
    s->memo.set = 0;
}
