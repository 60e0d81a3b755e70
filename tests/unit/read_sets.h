/* read_sets: a read set built by hand for the live and qcache tests (the store builds them for
 * real). */
#ifndef VR_TESTS_READ_SETS_H
#define VR_TESTS_READ_SETS_H

#include <stdlib.h>

#include "store/store.h"

/* Appends [lo, hi) on index_id (the test frees the set with read_set_release or its own). */
static void add_range(struct read_set *rs, uint32_t index_id, const char *lo, const char *hi)
{
    if (rs->len == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 4;
        rs->ranges = realloc(rs->ranges, rs->cap * sizeof *rs->ranges);
    }
    struct key_range *r = &rs->ranges[rs->len++];
    r->index_id = index_id;
    buf_init(&r->lo, BUF_NOLIMIT);
    buf_init(&r->hi, BUF_NOLIMIT);
    buf_append_str(&r->lo, lo);
    buf_append_str(&r->hi, hi);
}

#endif
