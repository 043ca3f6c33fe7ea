/*
 * Peak RSS: how many of skiff's own file pages a command maps.
 *
 * On a page fault in a file mapping the kernel also maps the cached pages
 * around the faulting one (fault-around: a 64 KB window, and since 6.18 a
 * whole large folio where one fits in the mapping). skiff's text is
 * megabytes; what a lifecycle command runs is scattered through it, so
 * most of what fault-around maps is code that never runs, and it all
 * counts as resident: without countermeasures run's peak RSS was above
 * crun's (figures with their kernel in docs/design-notes.md).
 *
 * Not in all of it: the symbol order (scripts/order-symbols) packs the
 * functions the lifecycle commands run at the start of the text, up to
 * skiff_hot_text_end (hotend.c), about 800 KB of which nearly every page
 * runs; there fault-around stays and saves a fault per page (run: 460 ->
 * 330 faults, 0.92 of the time, 180 KB more resident). Likewise RELRO,
 * read after start-up and mostly used. Everything else maps page by page.
 *
 * The kernel skips fault-around in a mapping registered with a userfaultfd
 * for write-protection (uffd_disable_fault_around). With the asynchronous
 * mode (UFFD_FEATURE_WP_ASYNC, Linux 6.7) a write-protect fault is
 * resolved by the kernel itself, so no thread has to serve the fd; and as
 * nothing is ever write-protected (no UFFDIO_WRITEPROTECT), the
 * registration changes nothing but that: every fault maps its own page.
 * UFFD_USER_MODE_ONLY makes it available to unprivileged callers too
 * (vm.unprivileged_userfaultfd=0 allows that flag). Every PT_LOAD segment
 * of the image is registered, at no measurable cost (three ioctls per
 * segment; the extra page faults cost less than the windows saved from
 * being mapped). SKIFF_NO_FAULTAROUND=1 switches this off (startup.c,
 * docs/diagnosis.md).
 *
 * The registration lasts while the fd is open, so it stays open, as fd
 * 1023 (below): O_CLOEXEC, so no program skiff executes gets it; a forked
 * child's mappings lose the registration anyway, and the container's
 * child closes it first thing (the launcher puts it in the plan as
 * startup_fd: skiff_startup_fd).
 *
 * Where that is refused (kernels before 6.7, a seccomp profile without
 * userfaultfd), the 2 MB of text after the hot text are split into 12 KB
 * mappings instead (every other piece
 * marked MADV_DONTDUMP, which has no effect on text but keeps neighbours
 * from merging), since fault-around never crosses a mapping's end; a
 * smaller gain, for a few microseconds per split.
 */
#include "internal.h"

#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <linux/userfaultfd.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Debian 12's headers predate it (Linux 6.7). */
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1ULL << 15)
#endif

int skiff_fault_fd = -1;

/* Whether the segment mapped at `lo` is the one PT_GNU_RELRO covers. */
static int is_relro(const ElfW(Phdr) * ph, unsigned long n, unsigned long lo)
{
    for (unsigned long i = 0; i < n; i++) {
        if (ph[i].p_type == PT_GNU_RELRO && (ph[i].p_vaddr & ~4095UL) == lo)
            return 1;
    }
    return 0;
}

/* The most hot text that may keep fault-around (the lifecycle's code is
 * well under 1 MB). */
enum { HOT_MAX = 1536 * 1024 };

/* Where the text from `lo` on stops being hot: the page after
 * skiff_hot_text_end, or `lo` itself when the marker is not within
 * HOT_MAX after it (a stale order: then none of it is). */
static unsigned long hot_text_end(unsigned long lo)
{
    unsigned long end = ((unsigned long)&skiff_hot_text_end + 4095) & ~4095UL;
    return end > lo && end - lo <= HOT_MAX ? end : lo;
}

static int register_image(void)
{
    /* The fd is held for the whole run: where fds are that scarce, it
     * could take the one skiff needs next (reading its own command line,
     * before Swift even starts), and the text split costs none. */
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < 64)
        return -1;
    int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (uffd < 0)
        return -1;
    struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC };
    if (ioctl(uffd, UFFDIO_API, &api) < 0 || !(api.features & UFFD_FEATURE_WP_ASYNC)) {
        close(uffd);
        return -1;
    }
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    unsigned long n = getauxval(AT_PHNUM);
    int registered = 0;
    for (unsigned long i = 0; ph && i < n; i++) {
        if (ph[i].p_type != PT_LOAD || ph[i].p_filesz == 0)
            continue;
        /* The file-backed part; the kernel maps a segment's last partial
         * page from the file too. */
        unsigned long lo = ph[i].p_vaddr & ~4095UL, hi = (ph[i].p_vaddr + ph[i].p_filesz + 4095) & ~4095UL;
        /* Fault-around stays where nearly every page is used anyway: the
         * hot text (the symbol order packs it before skiff_hot_text_end)
         * and RELRO (read-only after start-up; most of it is read). */
        if (ph[i].p_flags & PF_X)
            lo = hot_text_end(lo);
        if (lo >= hi || is_relro(ph, n, lo))
            continue;
        struct uffdio_register reg = { .range = { .start = lo, .len = hi - lo }, .mode = UFFDIO_REGISTER_MODE_WP };
        if (ioctl(uffd, UFFDIO_REGISTER, &reg) == 0)
            registered++;
    }
    if (!registered) {
        close(uffd);
        return -1;
    }
    /* Out of the way of the fds a caller hands on (--preserve-fds counts
     * from 3, and skiff checks each is open): the highest of the first
     * 1024, which an fd table of its default size already holds. */
    int top = getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < 1024 ? (int)lim.rlim_cur - 1 : 1023;
    int high = top > uffd ? fcntl(uffd, F_DUPFD_CLOEXEC, top) : -1;
    if (high >= 0) {
        close(uffd);
        uffd = high;
    }
    skiff_fault_fd = uffd;
    return 0;
}

static void split_text(void)
{
    enum { PIECE = 12 * 1024, RANGE = 2 * 1024 * 1024 };
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    unsigned long n = getauxval(AT_PHNUM);
    for (unsigned long i = 0; ph && i < n; i++) {
        if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X))
            continue;
        unsigned long lo = (ph[i].p_vaddr + 4095) & ~4095UL, hi = (ph[i].p_vaddr + ph[i].p_filesz) & ~4095UL;
        lo = hot_text_end(lo);
        if (hi > lo + RANGE)
            hi = lo + RANGE;
        for (unsigned long a = lo + PIECE; a + PIECE <= hi; a += 2 * PIECE)
            madvise((void *)a, PIECE, MADV_DONTDUMP);
    }
}

void limit_fault_around(void)
{
    if (register_image() < 0)
        split_text();
}
