/* fds: the number of file descriptors this process has open, for tests that check a component
 * closes every descriptor it opened (count before, run, count after). */
#ifndef VIREO_TESTS_FDS_H
#define VIREO_TESTS_FDS_H

#include <dirent.h>

static inline int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own fd */
}

#endif
