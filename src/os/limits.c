/*
 * os/limits: see limits.h.
 */
#include "os/limits.h"

#include <stdio.h>
#include <sys/resource.h>

/* fs.nr_open, the most any process may hold; 1048576 (the kernel's default) when unread. */
static rlim_t nr_open(void)
{
    unsigned long long v = 1048576;
    FILE *f = fopen("/proc/sys/fs/nr_open", "r");
    if (f != NULL) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 1048576;
        fclose(f);
    }
    return (rlim_t)v;
}

uint64_t wp_os_nofile_raise(uint64_t want)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0)
        return 0;
    rlim_t w = (rlim_t)want;
    if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < w) {
        if (r.rlim_max != RLIM_INFINITY && r.rlim_max < w) {
            rlim_t cap = nr_open();
            struct rlimit up = {w < cap ? w : cap, w < cap ? w : cap};
            if (up.rlim_max > r.rlim_max && setrlimit(RLIMIT_NOFILE, &up) == 0)
                r = up; /* privileged: both raised */
        }
        if (r.rlim_cur < w) {
            struct rlimit soft = {r.rlim_max == RLIM_INFINITY || r.rlim_max > w ? w : r.rlim_max,
                                  r.rlim_max};
            if (setrlimit(RLIMIT_NOFILE, &soft) == 0)
                r = soft;
        }
    }
    return r.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)r.rlim_cur;
}
