/*
 * Parent side: point /proc/self/exe at the read-only overlay copy of the
 * binary (exe.c) without exec'ing again.
 *
 * The kernel lets a process change its exe file (PR_SET_MM) only once no
 * mapping of the old file is left. So every mapping of the binary is
 * replaced by the same range of the overlay's file. overlayfs maps its
 * lower file, but through its own read-only clone of the lower mount, so
 * the kernel no longer counts the old path as mapped; the bytes are the
 * same page-cache pages. The pages the image has already written (glibc's
 * state in .data, the GOT) are copied out first and back afterwards.
 *
 * This runs in a constructor, single-threaded, before the Swift runtime.
 * From the first mmap until the copy is back the data segments hold the
 * file's initial bytes, so that stretch calls nothing but syscall() and
 * copies with rep movsb (no PLT call, no ifunc, no libc state).
 *
 * x86-64 only (the copy is x86 assembly, the page size 4 KB): elsewhere
 * swap_image_file says ENOSYS and exe.c re-executes from the copy.
 */
#include "internal.h"

#if !defined(__x86_64__)
int swap_image_file(int fd)
{
    (void)fd;
    errno = ENOSYS;
    return -1;
}
#else

#include <linux/prctl.h>
#include <stdlib.h>
#include <sys/mman.h>

struct seg {
    unsigned long lo, hi, off;
    int prot;
};

enum { MAX_SEGS = 16, PAGE = 4096 };

static void copy_bytes(void *dst, const void *src, unsigned long n)
{
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static const char *hex(const char *p, unsigned long *v)
{
    unsigned long x = 0;
    const char *start = p;
    for (;; p++) {
        unsigned d = (unsigned)(*p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : 99);
        if (d > 15)
            break;
        x = x * 16 + d;
    }
    *v = x;
    return p == start ? NULL : p;
}

/* The mappings of the file `exe` in /proc/self/maps. Each line is
 * "lo-hi perms offset major:minor inode path". */
static int exe_segments(const struct stat *exe, struct seg *segs)
{
    char buf[16384];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    for (ssize_t r; len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) != 0;) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            return -1;
        }
        len += (size_t)r;
    }
    close(fd);
    if (len == sizeof buf - 1) {
        errno = E2BIG;
        return -1;
    }
    buf[len] = '\0';
    int n = 0;
    for (const char *p = buf; *p;) {
        unsigned long lo, hi, off, maj, min, ino = 0;
        const char *q = hex(p, &lo);
        q = q && *q == '-' ? hex(q + 1, &hi) : NULL;
        const char *perms = q && *q == ' ' ? q + 1 : NULL;
        q = perms && perms[4] == ' ' ? hex(perms + 5, &off) : NULL;
        q = q && *q == ' ' ? hex(q + 1, &maj) : NULL;
        q = q && *q == ':' ? hex(q + 1, &min) : NULL;
        if (q && *q == ' ')
            for (q++; *q >= '0' && *q <= '9'; q++)
                ino = ino * 10 + (unsigned long)(*q - '0');
        if (!q) {
            errno = EINVAL;
            return -1;
        }
        if (ino == exe->st_ino && makedev(maj, min) == exe->st_dev) {
            if (n == MAX_SEGS || perms[3] != 'p') {
                errno = EINVAL;
                return -1;
            }
            segs[n++] = (struct seg){
                .lo = lo,
                .hi = hi,
                .off = off,
                .prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
                        (perms[2] == 'x' ? PROT_EXEC : 0),
            };
        }
        const char *nl = strchr(q, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

/* PR_SET_MM_EXE_FILE wants CAP_SYS_RESOURCE, which container hosts often
 * take from root; PR_SET_MM_MAP with an exe_fd wants CAP_SYS_ADMIN (or
 * CAP_CHECKPOINT_RESTORE), which making the overlay needed anyway. It sets
 * every bound of the mm as well, so they are passed back unchanged, read
 * from /proc/self/stat (fields 26-28 and 45-51; the current brk is not
 * there, brk(0) tells it). */
static int set_exe_file(int fd)
{
    char buf[1024];
    int sfd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (sfd < 0)
        return -1;
    ssize_t n = read(sfd, buf, sizeof buf - 1);
    close(sfd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    unsigned long long f[52] = { 0 };
    char *p = strrchr(buf, ')'); /* after the command name, which may hold anything */
    if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
        goto bad;
    p += 4; /* field 4 */
    for (int i = 4; i <= 51; i++) {
        char *end;
        f[i] = strtoull(p, &end, 10);
        if (end == p || (*end != ' ' && i < 51))
            goto bad;
        p = end + 1;
    }
    struct prctl_mm_map map = {
        .start_code = f[26],
        .end_code = f[27],
        .start_stack = f[28],
        .start_data = f[45],
        .end_data = f[46],
        .start_brk = f[47],
        .brk = (uint64_t)syscall(SYS_brk, 0),
        .arg_start = f[48],
        .arg_end = f[49],
        .env_start = f[50],
        .env_end = f[51],
        .exe_fd = (uint32_t)fd,
    };
    return prctl(PR_SET_MM, PR_SET_MM_MAP, &map, sizeof map, 0);
bad:
    errno = EINVAL;
    return -1;
}

/* The pages the image wrote in its non-executable mappings (copied on
 * write: present or swapped, and not file-backed, says pagemap). Text is
 * not scanned: nothing writes it but a debugger's breakpoints, which the
 * swap drops. They go to an anonymous mapping, not to this file's statics,
 * which may sit in the very pages being swapped: the addresses first, then
 * the pages. */
struct saved {
    char *map;
    size_t size;
    unsigned long count;
    unsigned long *where;
    char *pages;
};

static int save_written(const struct seg *segs, int n, struct saved *sv)
{
    uint64_t flags[512];
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pm < 0)
        return -1;
    *sv = (struct saved){ 0 };
    for (int pass = 0; pass < 2; pass++) {
        unsigned long count = 0;
        for (int i = 0; i < n; i++) {
            const struct seg *g = &segs[i];
            unsigned long pages = (g->hi - g->lo) / PAGE;
            if (g->prot & PROT_EXEC)
                continue;
            for (unsigned long done = 0; done < pages;) {
                unsigned long k = pages - done < 512 ? pages - done : 512;
                if (pread(pm, flags, k * 8, (off_t)((g->lo / PAGE + done) * 8)) != (ssize_t)(k * 8)) {
                    close(pm);
                    errno = EIO;
                    return -1;
                }
                for (unsigned long j = 0; j < k; j++) {
                    uint64_t v = flags[j];
                    if (!((v >> 63 & 1) || (v >> 62 & 1)) || (v >> 61 & 1))
                        continue;
                    if (pass == 1 && count < sv->count) {
                        unsigned long a = g->lo + (done + j) * PAGE;
                        sv->where[count] = a;
                        memcpy(sv->pages + PAGE * count, (void *)a, PAGE);
                    }
                    count++;
                }
                done += k;
            }
        }
        if (pass == 1) {
            if (count != sv->count) { /* cannot change: nothing runs in between */
                close(pm);
                errno = EAGAIN;
                return -1;
            }
            break;
        }
        if (!count)
            break;
        size_t head = (count * sizeof(unsigned long) + PAGE - 1) / PAGE * PAGE;
        sv->size = head + count * PAGE;
        sv->map = mmap(NULL, sv->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (sv->map == MAP_FAILED) {
            close(pm);
            return -1;
        }
        sv->count = count;
        sv->where = (unsigned long *)sv->map;
        sv->pages = sv->map + head;
    }
    close(pm);
    return 0;
}

int swap_image_file(int fd)
{
    struct stat exe;
    struct seg segs[MAX_SEGS];
    struct saved sv;
    if (stat("/proc/self/exe", &exe) < 0)
        return -1;
    int n = exe_segments(&exe, segs);
    if (n <= 0) {
        if (n == 0)
            errno = ENOENT;
        return -1;
    }
    if (save_written(segs, n, &sv) < 0) {
        if (sv.map && sv.map != MAP_FAILED)
            munmap(sv.map, sv.size);
        return -1;
    }
    /* Nothing but syscall() and copy_bytes from here until the pages are
     * back; a failed mmap would leave the image torn, so it ends the
     * process. */
    unsigned long k = 0;
    for (int i = 0; i < n; i++) {
        const struct seg *g = &segs[i];
        unsigned long first = k;
        while (k < sv.count && sv.where[k] >= g->lo && sv.where[k] < g->hi)
            k++;
        int prot = g->prot | (k > first ? PROT_WRITE : 0);
        if (syscall(SYS_mmap, g->lo, g->hi - g->lo, prot, MAP_PRIVATE | MAP_FIXED, fd, g->off) != (long)g->lo) {
            static const char msg[] = "skiff: mapping its own binary again failed\n";
            syscall(SYS_write, 2, msg, sizeof msg - 1);
            syscall(SYS_exit_group, 127);
        }
        for (unsigned long j = first; j < k; j++)
            copy_bytes((void *)sv.where[j], sv.pages + PAGE * j, PAGE);
        if (prot != g->prot)
            syscall(SYS_mprotect, g->lo, g->hi - g->lo, g->prot);
    }
    if (sv.map)
        munmap(sv.map, sv.size);
    return set_exe_file(fd);
}
#endif /* __x86_64__ */
