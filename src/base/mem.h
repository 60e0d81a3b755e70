/* mem: the one allocation wrapper. Running out of memory aborts the process (we are a server,
 * like Redis and h2o); the graceful path for growth driven by input is limits, not NULL checks. */
#ifndef VR_BASE_MEM_H
#define VR_BASE_MEM_H

#include <stddef.h>

void *vr_malloc(size_t n);
void *vr_calloc(size_t count, size_t size);
void *vr_realloc(void *p, size_t n);
char *vr_strdup(const char *s);
char *vr_strndup(const char *s, size_t n);
void *vr_memdup(const void *p, size_t n);
void vr_free(void *p);

#endif
