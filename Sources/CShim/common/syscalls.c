/* The raw syscalls glibc 2.36 does not wrap, for the child and for the
 * Swift side, and mount_setattr's common form. */
#include "internal.h"

#include <sys/mman.h>

/* With RESOLVE_IN_ROOT the kernel returns EAGAIN when a `..` step raced with
 * a rename or a mount anywhere on the system (openat2(2)); containers being set
 * up in parallel make that common, so the lookup is simply tried again. */
int sys_openat2(int dirfd, const char *path, struct open_how *how)
{
    int fd, tries = 0;
    do
        fd = (int)syscall(SYS_openat2, dirfd, path, how, sizeof *how);
    while (fd < 0 && (errno == EAGAIN || errno == EINTR) && ++tries < 1000);
    return fd;
}

int skiff_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
    struct open_how how = { .flags = flags, .mode = mode, .resolve = resolve };
    return sys_openat2(dirfd, path, &how);
}

int skiff_ns_type(int fd)
{
    int r = ioctl(fd, NS_GET_NSTYPE);
    return r < 0 ? -errno : r;
}

int skiff_errno(void)
{
    return errno;
}

int skiff_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

const int skiff_O_PATH = O_PATH;

int skiff_setns(int fd, int nstype)
{
    return setns(fd, nstype);
}

int skiff_unshare(int flags)
{
    return unshare(flags) < 0 ? -errno : 0;
}

int skiff_pipe2(int fds[2], int flags)
{
    return pipe2(fds, flags);
}

int skiff_signalfd(const void *sigset)
{
    return signalfd(-1, (const sigset_t *)sigset, SFD_CLOEXEC);
}

int skiff_signalfd_read(int fd)
{
    struct signalfd_siginfo info;
    ssize_t n;
    do {
        n = read(fd, &info, sizeof info);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof info ? (int)info.ssi_signo : -1;
}

uint64_t skiff_makedev(uint32_t major, uint32_t minor)
{
    return makedev(major, minor);
}

int skiff_flock(int fd, int op)
{
    return flock(fd, op);
}

int skiff_pidfd_send_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

long skiff_fs_magic(const char *path)
{
    struct statfs sf;
    return statfs(path, &sf) < 0 ? -errno : (long)sf.f_type;
}

int skiff_memfd(const char *name)
{
    return memfd_create(name, MFD_CLOEXEC);
}

uint64_t skiff_random64(void)
{
    uint64_t r = 0;
    while (syscall(SYS_getrandom, &r, sizeof r, 0) < 0 && errno == EINTR)
        ;
    return r;
}

/* mount_setattr on a mount fd: attributes, propagation, an idmapping. */
int setattr(int fd, unsigned int flags, uint64_t set, uint64_t clr, uint64_t propagation, int userns)
{
    struct mount_attr attr = {
        .attr_set = set,
        .attr_clr = clr,
        .propagation = propagation,
        .userns_fd = userns >= 0 ? (uint64_t)userns : 0,
    };
    return mount_setattr(fd, "", AT_EMPTY_PATH | flags, &attr, sizeof attr);
}

/* "/proc/self/fd/N" without snprintf. */
void fd_path(char buf[32], int fd)
{
    static const char prefix[] = "/proc/self/fd/";
    char digits[12];
    int n = 0;
    memcpy(buf, prefix, sizeof prefix - 1);
    do {
        digits[n++] = (char)('0' + fd % 10);
        fd /= 10;
    } while (fd > 0);
    for (int i = 0; i < n; i++)
        buf[sizeof prefix - 1 + i] = digits[n - 1 - i];
    buf[sizeof prefix - 1 + n] = '\0';
}
