/* file: writing a whole file so that a reader (or a crash) sees the old content or the new, never
 * a part: a temporary file beside it, renamed over it. */
#ifndef VR_BASE_FILE_H
#define VR_BASE_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Writes (data, len) to path with `mode` through path.tmp<pid>, renamed over path; with
 * `durable`, fsynced before the rename and the folder after it (survives a power loss). 0 or
 * -errno (the temporary file removed). */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, int durable);

#endif
