/* slice: a borrowed (pointer, length) view into someone else's bytes; never owns memory. */
#ifndef VR_BASE_SLICE_H
#define VR_BASE_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

struct slice {
    const char *p;
    size_t len;
};

#define SLICE_LIT(s) ((struct slice){ (s), sizeof(s) - 1 })

static inline struct slice slice_of(const char *p, size_t len)
{
    return (struct slice){ p, len };
}

static inline bool slice_eq_str(struct slice s, const char *z)
{
    size_t n = strlen(z);
    return s.len == n && memcmp(s.p, z, n) == 0;
}

static inline bool slice_case_eq_str(struct slice s, const char *z)
{
    size_t n = strlen(z);
    return s.len == n && strncasecmp(s.p, z, n) == 0;
}

#endif
