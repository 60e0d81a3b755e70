/* mem: allocation wrappers that abort on exhaustion. */
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "vireo: out of memory allocating %zu bytes\n", n);
    abort();
}

void *vr_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *vr_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *vr_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *vr_strdup(const char *s)
{
    return vr_memdup(s, strlen(s) + 1);
}

char *vr_strndup(const char *s, size_t n)
{
    char *d = vr_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void *vr_memdup(const void *p, size_t n)
{
    void *d = vr_malloc(n);
    if (n)
        memcpy(d, p, n);
    return d;
}

void vr_free(void *p)
{
    free(p);
}
