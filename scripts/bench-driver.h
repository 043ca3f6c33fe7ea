/* C the bench driver needs that Swift's Glibc module hides. */
#define _GNU_SOURCE
#include <sys/prctl.h>

static inline int bench_set_subreaper(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}
