/*
 * The container's first process, from clone3 to execve.
 *
 * Only async-signal-safe calls: raw syscalls and the thin glibc wrappers
 * around them. No allocation, no stdio, no locale, no Swift. A failure is
 * reported as one fixed-size record (step, errno, index) and the process
 * exits; the parent turns the record into a message with plan context.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/nsfs.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* struct clone_args, CLONE_ARGS_SIZE_VER2 (with cgroup). */
struct skiff_clone_args {
    uint64_t flags;
    uint64_t pidfd;
    uint64_t child_tid;
    uint64_t parent_tid;
    uint64_t exit_signal;
    uint64_t stack;
    uint64_t stack_size;
    uint64_t tls;
    uint64_t set_tid;
    uint64_t set_tid_size;
    uint64_t cgroup;
};

/* ------------------------------------------------------------------ names */

const char *skiff_sync_name(uint32_t type)
{
    switch (type) {
    case SKIFF_SYNC_NONE: return "SKIFF_SYNC_NONE";
    case SKIFF_SYNC_USERMAP_ACK: return "SKIFF_SYNC_USERMAP_ACK";
    case SKIFF_SYNC_READY: return "SKIFF_SYNC_READY";
    case SKIFF_SYNC_COMMIT: return "SKIFF_SYNC_COMMIT";
    case SKIFF_SYNC_START: return "SKIFF_SYNC_START";
    case SKIFF_SYNC_ERROR: return "SKIFF_SYNC_ERROR";
    case SKIFF_SYNC_MOUNTFDS: return "SKIFF_SYNC_MOUNTFDS";
    }
    return "SKIFF_SYNC_UNKNOWN";
}

const char *skiff_step_name(uint32_t step)
{
    static const char *const names[SKIFF_STEP_COUNT] = {
        [SKIFF_STEP_NONE] = "none",
        [SKIFF_STEP_PROTOCOL] = "sync",
        [SKIFF_STEP_FDS] = "close inherited fds",
        [SKIFF_STEP_SIGNALS] = "reset signals",
        [SKIFF_STEP_USERNS_ROOT] = "become root in the user namespace",
        [SKIFF_STEP_SETNS] = "setns",
        [SKIFF_STEP_TIMENS] = "unshare time namespace",
        [SKIFF_STEP_TIMENS_OFFSETS] = "write timens_offsets",
        [SKIFF_STEP_TIMENS_ENTER] = "enter time namespace",
        [SKIFF_STEP_ROOT_PROPAGATION] = "make / private",
        [SKIFF_STEP_ROOTFS_BIND] = "bind rootfs",
        [SKIFF_STEP_ROOTFS_OPEN] = "open rootfs",
        [SKIFF_STEP_MOUNT_TARGET] = "mount target",
        [SKIFF_STEP_MOUNT_SOURCE] = "mount source",
        [SKIFF_STEP_MOUNT] = "mount",
        [SKIFF_STEP_MOUNT_IDMAP] = "idmap mount",
        [SKIFF_STEP_MOUNT_ATTR] = "mount attributes",
        [SKIFF_STEP_MOUNT_PROPAGATION] = "mount propagation",
        [SKIFF_STEP_DEVICE_DIR] = "directory",
        [SKIFF_STEP_DEVICE] = "device",
        [SKIFF_STEP_SYMLINK] = "symlink",
        [SKIFF_STEP_PIVOT_ROOT] = "pivot_root",
        [SKIFF_STEP_ROOTFS_PROPAGATION] = "rootfs propagation",
        [SKIFF_STEP_SYSCTL] = "sysctl",
        [SKIFF_STEP_MASK] = "mask",
        [SKIFF_STEP_READONLY_PATH] = "readonly path",
        [SKIFF_STEP_ROOTFS_READONLY] = "readonly rootfs",
        [SKIFF_STEP_HOSTNAME] = "sethostname",
        [SKIFF_STEP_DOMAINNAME] = "setdomainname",
        [SKIFF_STEP_LOOPBACK] = "loopback up",
        [SKIFF_STEP_RLIMIT] = "setrlimit",
        [SKIFF_STEP_PERSONALITY] = "personality",
        [SKIFF_STEP_CAP_BOUNDING] = "drop bounding capability",
        [SKIFF_STEP_KEEPCAPS] = "keep capabilities",
        [SKIFF_STEP_SETGROUPS] = "setgroups",
        [SKIFF_STEP_SETGID] = "setresgid",
        [SKIFF_STEP_SETUID] = "setresuid",
        [SKIFF_STEP_CAPSET] = "capset",
        [SKIFF_STEP_CAP_AMBIENT] = "raise ambient capability",
        [SKIFF_STEP_NO_NEW_PRIVS] = "no_new_privs",
        [SKIFF_STEP_CHDIR] = "chdir",
        [SKIFF_STEP_CWD_VERIFY] = "verify cwd",
        [SKIFF_STEP_START_WAIT] = "wait for start",
        [SKIFF_STEP_SECCOMP] = "seccomp",
        [SKIFF_STEP_EXEC] = "exec",
    };
    if (step < SKIFF_STEP_COUNT && names[step])
        return names[step];
    return "unknown step";
}

/* ------------------------------------------------------------ raw syscalls */

/* With RESOLVE_IN_ROOT the kernel returns EAGAIN when a `..` step raced with
 * a rename or a mount anywhere on the system (openat2(2)); containers being set
 * up in parallel make that common, so the lookup is simply tried again. */
static int sys_openat2(int dirfd, const char *path, struct open_how *how)
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

/* ------------------------------------------------------------ child side */

/* Where a failure is reported: the sync socket, then the `start` connection. */
static int report_fd = -1;

static void send_msg(int fd, uint32_t type, uint32_t step, int32_t err, int32_t index)
{
    skiff_msg m = { .type = type, .step = step, .error = err, .index = index };
    ssize_t r;
    do {
        r = send(fd, &m, sizeof m, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
}

__attribute__((noreturn)) static void fail(uint32_t step, int32_t index)
{
    int err = errno;
    if (report_fd >= 0)
        send_msg(report_fd, SKIFF_SYNC_ERROR, step, err, index);
    _exit(step == SKIFF_STEP_EXEC ? (err == ENOENT ? 127 : 126) : 1);
}

/* Read one message. End of file means the parent is gone: nobody is left to
 * report to, so leave quietly. */
static uint32_t recv_msg(int fd)
{
    skiff_msg m;
    ssize_t r;
    do {
        r = recv(fd, &m, sizeof m, 0);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        _exit(1);
    if (r != (ssize_t)sizeof m) {
        if (r >= 0)
            errno = EPROTO;
        fail(SKIFF_STEP_PROTOCOL, -1);
    }
    return m.type;
}

/* The trees the parent made, in the order of the FROM_PARENT mounts. */
static int parent_trees[SKIFF_MAX_PARENT_TREES];
static uint32_t parent_trees_used;

static void receive_trees(int fd, uint32_t n)
{
    skiff_msg m;
    char control[CMSG_SPACE(sizeof(int) * SKIFF_MAX_PARENT_TREES)];
    struct iovec iov = { .iov_base = &m, .iov_len = sizeof m };
    struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                        .msg_controllen = sizeof control };
    ssize_t r;
    do {
        r = recvmsg(fd, &h, MSG_CMSG_CLOEXEC);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        _exit(1);
    if (r != (ssize_t)sizeof m)
        fail(SKIFF_STEP_PROTOCOL, -1);
    if (m.type != SKIFF_SYNC_MOUNTFDS) {
        errno = EPROTO;
        fail(SKIFF_STEP_PROTOCOL, (int32_t)((SKIFF_SYNC_MOUNTFDS << 16) | (m.type & 0xffff)));
    }
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int) * n)) {
        errno = EPROTO;
        fail(SKIFF_STEP_PROTOCOL, -1);
    }
    memcpy(parent_trees, CMSG_DATA(c), sizeof(int) * n);
}

static void expect_msg(int fd, uint32_t want)
{
    uint32_t got = recv_msg(fd);
    if (got != want) {
        errno = EPROTO;
        fail(SKIFF_STEP_PROTOCOL, (int32_t)((want << 16) | (got & 0xffff)));
    }
}

/* "/proc/self/fd/N" without snprintf. */
static void fd_path(char buf[32], int fd)
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

enum { NO_CREATE = 0, CREATE_DIR = 1, CREATE_FILE = 2 };

static const uint64_t in_root = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

/*
 * Open `path` (relative, normalised by the planner) below `rootfd` as an
 * O_PATH fd, creating what is missing. Every lookup is resolved from the
 * root with RESOLVE_IN_ROOT, so a symlink anywhere in the image leads to a
 * place inside the rootfs, never onto the host; creation happens in a
 * directory fd, never by path.
 */
static int open_in_root(int rootfd, const char *path, int create)
{
    struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = in_root };
    struct open_how dir = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = in_root };
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0)
        return sys_openat2(rootfd, ".", &how);
    int fd = sys_openat2(rootfd, path, &how);
    if (fd >= 0 || errno != ENOENT || create == NO_CREATE)
        return fd;
    if (len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    /* Start below the deepest ancestor that exists (usually the parent),
     * rather than opening every component from the root again. */
    size_t start = 0;
    int known_parent = -1; /* the ancestor found, whose next component is missing */
    for (size_t cut = len; cut > 0;) {
        while (cut > 0 && buf[cut - 1] != '/')
            cut--;
        if (cut == 0)
            break;
        buf[cut - 1] = '\0';
        int up = sys_openat2(rootfd, buf, &dir);
        buf[cut - 1] = '/';
        if (up >= 0) {
            known_parent = up;
            start = cut;
            break;
        }
        if (errno != ENOENT && errno != ENOTDIR)
            return -1;
        cut--;
    }
    int links = 0;
    for (;;) {
        size_t end = start;
        while (buf[end] != '\0' && buf[end] != '/')
            end++;
        int last = buf[end] == '\0';
        char saved = buf[end];
        buf[end] = '\0';
        if (known_parent >= 0) {
            fd = -1;
            errno = ENOENT;
        } else {
            fd = sys_openat2(rootfd, buf, &how);
        }
        if (fd < 0) {
            if (errno != ENOENT)
                return -1;
            int parent;
            if (known_parent >= 0) {
                parent = known_parent;
                known_parent = -1;
            } else if (start == 0) {
                parent = sys_openat2(rootfd, ".", &dir);
            } else {
                buf[start - 1] = '\0';
                parent = sys_openat2(rootfd, buf, &dir);
                buf[start - 1] = '/';
            }
            if (parent < 0)
                return -1;
            int r;
            if (last && create == CREATE_FILE) {
                int f = openat(parent, buf + start, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                r = f < 0 ? -1 : close(f);
            } else {
                r = mkdirat(parent, buf + start, 0755);
            }
            if (r < 0 && errno == EEXIST) {
                /* A dangling symlink: create its target instead, as runc
                 * does (an image's /etc/resolv.conf -> ../run/...). The new
                 * path is resolved inside the root like any other. */
                char link[PATH_MAX];
                ssize_t n = readlinkat(parent, buf + start, link, sizeof link - 1);
                int err = errno;
                close(parent);
                if (n < 0) {
                    errno = err == EINVAL ? EEXIST : err;
                    return -1;
                }
                if (++links > 40) {
                    errno = ELOOP;
                    return -1;
                }
                link[n] = '\0';
                /* buf becomes: <dir of the link>/<link>/<rest>, or <link>/<rest>
                 * for an absolute link (absolute means the container's root). */
                char next[PATH_MAX];
                size_t off = 0;
                const char *l = link;
                if (link[0] == '/') {
                    while (*l == '/')
                        l++;
                } else if (start > 0) {
                    memcpy(next, buf, start);
                    off = start;
                }
                size_t ll = strlen(l), rest = last ? 0 : strlen(buf + end + 1);
                if (off + ll + 1 + rest + 1 > sizeof next) {
                    errno = ENAMETOOLONG;
                    return -1;
                }
                memcpy(next + off, l, ll);
                off += ll;
                if (!last) {
                    next[off++] = '/';
                    memcpy(next + off, buf + end + 1, rest);
                    off += rest;
                }
                next[off] = '\0';
                /* No empty components: drop leading, doubled and trailing slashes. */
                size_t w = 0;
                for (size_t r2 = 0; r2 < off; r2++) {
                    if (next[r2] == '/' && (w == 0 || buf[w - 1] == '/'))
                        continue;
                    buf[w++] = next[r2];
                }
                while (w > 0 && buf[w - 1] == '/')
                    w--;
                buf[w] = '\0';
                if (w == 0)
                    return sys_openat2(rootfd, ".", &how);
                start = 0;
                continue;
            }
            int err = errno;
            close(parent);
            if (r < 0) {
                errno = err;
                return -1;
            }
            fd = sys_openat2(rootfd, buf, &how);
            if (fd < 0)
                return -1;
        }
        buf[end] = saved;
        if (last)
            return fd;
        close(fd);
        start = end + 1;
    }
}

static int open_parent_uncached(int rootfd, const char *path, const char **name);

/* The directory that holds `path`, created if missing; *name is its last
 * component. The last one is kept open: devices and links come in runs
 * that share their directory (dev/). */
static int cached_parent = -1;
static char cached_parent_path[PATH_MAX];

static int open_parent_in_root(int rootfd, const char *path, const char **name)
{
    const char *slash0 = strrchr(path, '/');
    size_t plen = slash0 ? (size_t)(slash0 - path) : 0;
    if (cached_parent >= 0 && plen < sizeof cached_parent_path &&
        strlen(cached_parent_path) == plen && memcmp(cached_parent_path, path, plen) == 0) {
        *name = slash0 ? slash0 + 1 : path;
        return cached_parent;
    }
    int fd = open_parent_uncached(rootfd, path, name);
    if (fd >= 0 && plen < sizeof cached_parent_path) {
        if (cached_parent >= 0)
            close(cached_parent);
        memcpy(cached_parent_path, path, plen);
        cached_parent_path[plen] = '\0';
        cached_parent = fd;
    }
    return fd;
}

static void forget_parent(void)
{
    if (cached_parent >= 0)
        close(cached_parent);
    cached_parent = -1;
}

static int open_parent_uncached(int rootfd, const char *path, const char **name)
{
    const char *slash = strrchr(path, '/');
    char buf[PATH_MAX];
    if (!slash) {
        *name = path;
        return open_in_root(rootfd, "", NO_CREATE);
    }
    size_t len = (size_t)(slash - path);
    if (len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len);
    buf[len] = '\0';
    *name = slash + 1;
    return open_in_root(rootfd, buf, CREATE_DIR);
}

static int setattr(int fd, unsigned int flags, uint64_t set, uint64_t clr, uint64_t propagation, int userns)
{
    struct mount_attr attr = {
        .attr_set = set,
        .attr_clr = clr,
        .propagation = propagation,
        .userns_fd = userns >= 0 ? (uint64_t)userns : 0,
    };
    return mount_setattr(fd, "", AT_EMPTY_PATH | flags, &attr, sizeof attr);
}

/*
 * In a user namespace the kernel locks the flags an inherited mount already
 * has (nosuid, nodev, noexec, ro, the atime mode); clearing one is EPERM.
 * Keep what is set and try again, as runc does for rootless containers.
 */
static int setattr_keep_locked(int fd, unsigned int flags, uint64_t set, uint64_t clr)
{
    if (setattr(fd, flags, set, clr, 0, -1) == 0 || errno != EPERM)
        return errno == EPERM ? -1 : 0;
    struct statvfs sv;
    if (fstatvfs(fd, &sv) < 0)
        return -1;
    uint64_t locked = 0;
    if (sv.f_flag & ST_RDONLY) locked |= MOUNT_ATTR_RDONLY;
    if (sv.f_flag & ST_NOSUID) locked |= MOUNT_ATTR_NOSUID;
    if (sv.f_flag & ST_NODEV) locked |= MOUNT_ATTR_NODEV;
    if (sv.f_flag & ST_NOEXEC) locked |= MOUNT_ATTR_NOEXEC;
    clr &= ~locked;
    if (clr & MOUNT_ATTR__ATIME) {
        set &= ~MOUNT_ATTR__ATIME;
        clr &= ~MOUNT_ATTR__ATIME;
    }
    return setattr(fd, flags, set, clr, 0, -1);
}

static void apply_attrs(int fd, const struct skiff_mount *m, int32_t i)
{
    int keep = (m->flags & SKIFF_MF_KEEP_LOCKED) != 0;
    if (m->rattr_set || m->rattr_clr) {
        int r = keep ? setattr_keep_locked(fd, AT_RECURSIVE, m->rattr_set, m->rattr_clr)
                     : setattr(fd, AT_RECURSIVE, m->rattr_set, m->rattr_clr, 0, -1);
        if (r < 0)
            fail(SKIFF_STEP_MOUNT_ATTR, i);
    }
    if (m->attr_set || m->attr_clr) {
        int r = keep ? setattr_keep_locked(fd, 0, m->attr_set, m->attr_clr)
                     : setattr(fd, 0, m->attr_set, m->attr_clr, 0, -1);
        if (r < 0)
            fail(SKIFF_STEP_MOUNT_ATTR, i);
    }
}

static void apply_propagation(int fd, const struct skiff_mount *m, int32_t i)
{
    if (m->propagation &&
        setattr(fd, m->propagation_recursive ? AT_RECURSIVE : 0, 0, 0, m->propagation, -1) < 0)
        fail(SKIFF_STEP_MOUNT_PROPAGATION, i);
}

/* A filesystem made detached (new mount API), so that it can be idmapped
 * before it is attached. Options are fsconfig parameters: "key=value" or
 * "flag". */
static int make_detached_fs(const struct skiff_mount *m)
{
    int fs = fsopen(m->fstype, FSOPEN_CLOEXEC);
    if (fs < 0)
        return -1;
    if (m->source && m->source[0] && fsconfig(fs, FSCONFIG_SET_STRING, "source", m->source, 0) < 0)
        goto fail;
    if (m->data) {
        char buf[4096];
        size_t len = strlen(m->data);
        if (len >= sizeof buf) {
            errno = E2BIG;
            goto fail;
        }
        memcpy(buf, m->data, len + 1);
        char *opt = buf;
        while (opt) {
            char *next = strchr(opt, ',');
            if (next)
                *next++ = '\0';
            char *eq = strchr(opt, '=');
            int r;
            if (eq) {
                *eq = '\0';
                r = fsconfig(fs, FSCONFIG_SET_STRING, opt, eq + 1, 0);
            } else {
                r = fsconfig(fs, FSCONFIG_SET_FLAG, opt, NULL, 0);
            }
            if (r < 0)
                goto fail;
            opt = next;
        }
    }
    if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        goto fail;
    int mnt = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned int)m->attr_set);
    int err = errno;
    close(fs);
    errno = err;
    return mnt;
fail:
    err = errno;
    close(fs);
    errno = err;
    return -1;
}

/* Idmap a detached tree: with the user namespace the parent made for the
 * mount's mappings, or with the child's own (IDMAP_SELF); nothing when the
 * mount has neither. */
static void idmap_tree(int tree, const struct skiff_mount *m, int32_t i)
{
    int self = (m->flags & SKIFF_MF_IDMAP_SELF) != 0;
    int userns = self ? open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC) : m->userns_fd;
    if (!self && userns < 0)
        return;
    if (userns < 0 || setattr(tree, m->idmap_recursive ? AT_RECURSIVE : 0, MOUNT_ATTR_IDMAP, 0, 0, userns) < 0)
        fail(SKIFF_STEP_MOUNT_IDMAP, i);
    if (self)
        close(userns);
}

/* Attach a detached tree at the mount's target, resolved inside the root
 * (created as `create` when missing), then set its propagation. */
static void attach_tree(int rootfd, int tree, const struct skiff_mount *m, int32_t i, int create)
{
    int target = open_in_root(rootfd, m->target, create);
    if (target < 0)
        fail(SKIFF_STEP_MOUNT_TARGET, i);
    if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        fail(SKIFF_STEP_MOUNT, i);
    apply_propagation(tree, m, i);
    close(target);
    close(tree);
}

static void do_mount(int rootfd, const struct skiff_mount *m, int32_t i)
{
    char proc[32];
    int target, tree;
    struct stat st;

    switch (m->kind) {
    case SKIFF_MOUNT_FS:
        if (m->flags & SKIFF_MF_DETACHED) {
            tree = make_detached_fs(m);
            if (tree < 0)
                fail(SKIFF_STEP_MOUNT, i);
            idmap_tree(tree, m, i);
            attach_tree(rootfd, tree, m, i, CREATE_DIR);
            return;
        }
        target = open_in_root(rootfd, m->target, CREATE_DIR);
        if (target < 0)
            fail(SKIFF_STEP_MOUNT_TARGET, i);
        /* The target is pinned by an fd resolved inside the root; mount(2)
         * follows its /proc/self/fd link (the host's /proc: no pivot yet). */
        fd_path(proc, target);
        if (mount(m->source, proc, m->fstype, m->ms_flags, m->data) < 0)
            fail(SKIFF_STEP_MOUNT, i);
        close(target);
        if (m->rattr_set || m->rattr_clr || m->attr_set || m->attr_clr || m->propagation) {
            /* Open again: now the path leads to the root of the new mount. */
            tree = open_in_root(rootfd, m->target, NO_CREATE);
            if (tree < 0)
                fail(SKIFF_STEP_MOUNT_TARGET, i);
            apply_attrs(tree, m, i);
            apply_propagation(tree, m, i);
            close(tree);
        }
        return;

    case SKIFF_MOUNT_BIND:
        if (m->flags & SKIFF_MF_FROM_PARENT) {
            /* Idmapped by the parent, which is privileged over the filesystem. */
            if (parent_trees_used >= SKIFF_MAX_PARENT_TREES) {
                errno = EPROTO;
                fail(SKIFF_STEP_MOUNT_SOURCE, i);
            }
            tree = parent_trees[parent_trees_used++];
        } else {
            /* A detached copy of the source: its attributes are set before it
             * becomes visible, and an idmapping can only go on a detached mount. */
            tree = open_tree(AT_FDCWD, m->source,
                             OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                 ((m->flags & SKIFF_MF_RECURSIVE) ? AT_RECURSIVE : 0));
            if (tree < 0)
                fail(SKIFF_STEP_MOUNT_SOURCE, i);
            idmap_tree(tree, m, i);
            apply_attrs(tree, m, i);
        }
        if (fstat(tree, &st) < 0)
            fail(SKIFF_STEP_MOUNT_SOURCE, i);
        attach_tree(rootfd, tree, m, i, S_ISDIR(st.st_mode) ? CREATE_DIR : CREATE_FILE);
        return;

    case SKIFF_MOUNT_ATTR:
        tree = open_in_root(rootfd, m->target, NO_CREATE);
        if (tree < 0)
            fail(SKIFF_STEP_MOUNT_TARGET, i);
        apply_attrs(tree, m, i);
        apply_propagation(tree, m, i);
        close(tree);
        return;
    }
    errno = EINVAL;
    fail(SKIFF_STEP_MOUNT, i);
}

static void make_device(int rootfd, const struct skiff_device *d, int32_t i)
{
    const char *name;
    int parent = open_parent_in_root(rootfd, d->path, &name);
    if (parent < 0)
        fail(SKIFF_STEP_DEVICE, i);
    if (d->flags & SKIFF_DEV_BIND) {
        /* No mknod in a user namespace: bind the host's node over an empty file. */
        int tree = open_tree(AT_FDCWD, d->host_path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
            fail(SKIFF_STEP_DEVICE, i);
        int f = openat(parent, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f < 0)
            fail(SKIFF_STEP_DEVICE, i);
        close(f);
        int target = open_in_root(rootfd, d->path, NO_CREATE);
        if (target < 0)
            fail(SKIFF_STEP_DEVICE, i);
        if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            fail(SKIFF_STEP_DEVICE, i);
        close(target);
        close(tree);
    } else {
        if (mknodat(parent, name, d->mode, d->rdev) < 0) {
            /* An existing node is fine if it is the same device. */
            struct stat st;
            if (errno != EEXIST || fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                fail(SKIFF_STEP_DEVICE, i);
            if ((st.st_mode & S_IFMT) != (d->mode & S_IFMT) || st.st_rdev != d->rdev) {
                errno = EEXIST;
                fail(SKIFF_STEP_DEVICE, i);
            }
        }
        if (fchownat(parent, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
            fail(SKIFF_STEP_DEVICE, i);
    }
}

static void make_symlink(int rootfd, const struct skiff_symlink *l, int32_t i)
{
    const char *name;
    int parent = open_parent_in_root(rootfd, l->path, &name);
    if (parent < 0)
        fail(SKIFF_STEP_SYMLINK, i);
    if (symlinkat(l->target, parent, name) < 0 && errno != EEXIST)
        fail(SKIFF_STEP_SYMLINK, i);
}

static void pivot(int rootfd)
{
    /* pivot_root(".", "."): the old root ends up stacked on the new one and
     * is detached at once, so the image needs no directory for it. */
    int oldroot = open("/", O_DIRECTORY | O_PATH | O_CLOEXEC);
    if (oldroot < 0 || fchdir(rootfd) < 0)
        fail(SKIFF_STEP_PIVOT_ROOT, 0);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        fail(SKIFF_STEP_PIVOT_ROOT, 1);
    if (fchdir(oldroot) < 0)
        fail(SKIFF_STEP_PIVOT_ROOT, 2);
    /* Slave first, so that detaching the old root unmounts nothing on the host. */
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        fail(SKIFF_STEP_PIVOT_ROOT, 3);
    if (umount2(".", MNT_DETACH) < 0)
        fail(SKIFF_STEP_PIVOT_ROOT, 4);
    if (chdir("/") < 0)
        fail(SKIFF_STEP_PIVOT_ROOT, 5);
    close(oldroot);
}

static int open_root_path(const char *path, int flags)
{
    struct open_how how = { .flags = (uint64_t)flags | O_CLOEXEC, .resolve = in_root };
    return sys_openat2(AT_FDCWD, path, &how);
}

static void write_sysctls(const struct skiff_plan *p)
{
    for (uint32_t i = 0; i < p->n_sysctls; i++) {
        int fd = open_root_path(p->sysctl_paths[i], O_WRONLY | O_NOFOLLOW);
        if (fd < 0)
            fail(SKIFF_STEP_SYSCTL, (int32_t)i);
        size_t len = strlen(p->sysctl_values[i]);
        if (write(fd, p->sysctl_values[i], len) != (ssize_t)len)
            fail(SKIFF_STEP_SYSCTL, (int32_t)i);
        close(fd);
    }
}

static void mask_paths(const struct skiff_plan *p)
{
    int null = -1;
    for (uint32_t i = 0; i < p->n_masked; i++) {
        int target = open_root_path(p->masked[i], O_PATH);
        if (target < 0) {
            if (errno == ENOENT)
                continue;
            fail(SKIFF_STEP_MASK, (int32_t)i);
        }
        struct stat st;
        if (fstat(target, &st) < 0)
            fail(SKIFF_STEP_MASK, (int32_t)i);
        int tree;
        if (S_ISDIR(st.st_mode)) {
            /* An empty read-only tmpfs hides a directory. */
            int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
            if (fs < 0 || fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                fail(SKIFF_STEP_MASK, (int32_t)i);
            tree = fsmount(fs, FSMOUNT_CLOEXEC,
                           MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
            close(fs);
        } else {
            /* The container's /dev/null hides a file, but only if it really
             * is the null device: a symlink or another node put there by
             * the image would expose what it points to (CVE-2025-31133). */
            if (null < 0) {
                struct stat ns;
                null = open_root_path("/dev/null", O_PATH | O_NOFOLLOW);
                if (null < 0)
                    fail(SKIFF_STEP_MASK, (int32_t)i);
                if (fstat(null, &ns) < 0 || !S_ISCHR(ns.st_mode) || ns.st_rdev != makedev(1, 3)) {
                    errno = ENODEV;
                    fail(SKIFF_STEP_MASK, (int32_t)i);
                }
            }
            tree = open_tree(null, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        }
        if (tree < 0)
            fail(SKIFF_STEP_MASK, (int32_t)i);
        if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            fail(SKIFF_STEP_MASK, (int32_t)i);
        close(tree);
        close(target);
    }
    if (null >= 0)
        close(null);
}

static void readonly_paths(const struct skiff_plan *p)
{
    for (uint32_t i = 0; i < p->n_readonly; i++) {
        int target = open_root_path(p->readonly[i], O_PATH);
        if (target < 0) {
            if (errno == ENOENT)
                continue;
            fail(SKIFF_STEP_READONLY_PATH, (int32_t)i);
        }
        int tree = open_tree(target, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
        if (tree < 0)
            fail(SKIFF_STEP_READONLY_PATH, (int32_t)i);
        if (setattr(tree, AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0, 0, -1) < 0)
            fail(SKIFF_STEP_READONLY_PATH, (int32_t)i);
        if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            fail(SKIFF_STEP_READONLY_PATH, (int32_t)i);
        close(tree);
        close(target);
    }
}

static void setup_rootfs(const struct skiff_plan *p)
{
    /* Nothing mounted from here on may propagate back to the host. */
    if (mount(NULL, "/", NULL, p->root_propagation, NULL) < 0)
        fail(SKIFF_STEP_ROOT_PROPAGATION, -1);
    /* pivot_root needs the new root to be a mount point. */
    if (mount(p->rootfs, p->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        fail(SKIFF_STEP_ROOTFS_BIND, -1);
    int rootfd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        fail(SKIFF_STEP_ROOTFS_OPEN, -1);

    /* Mounts in the listed order (the spec requires it); each target is
     * resolved inside the rootfs after the mounts before it are in place. */
    for (uint32_t i = 0; i < p->n_mounts; i++)
        do_mount(rootfd, &p->mounts[i], (int32_t)i);
    /* Devices and links go into the /dev that the mounts above made. */
    for (uint32_t i = 0; i < p->n_dirs; i++) {
        int fd = open_in_root(rootfd, p->dirs[i], CREATE_DIR);
        if (fd < 0)
            fail(SKIFF_STEP_DEVICE_DIR, (int32_t)i);
        close(fd);
    }
    for (uint32_t i = 0; i < p->n_devices; i++)
        make_device(rootfd, &p->devices[i], (int32_t)i);
    for (uint32_t i = 0; i < p->n_symlinks; i++)
        make_symlink(rootfd, &p->symlinks[i], (int32_t)i);
    forget_parent();

    pivot(rootfd);
    close(rootfd);
    if (p->rootfs_propagation && mount(NULL, "/", NULL, p->rootfs_propagation, NULL) < 0)
        fail(SKIFF_STEP_ROOTFS_PROPAGATION, -1);

    /* Sysctls before readonly paths (they write to /proc/sys), masks before
     * readonly paths (a read-only bind must not capture an unmasked file),
     * the read-only root last: everything above writes into it. */
    write_sysctls(p);
    mask_paths(p);
    readonly_paths(p);
    if (p->rootfs_readonly && mount_setattr(AT_FDCWD, "/", 0,
            &(struct mount_attr){ .attr_set = MOUNT_ATTR_RDONLY }, sizeof(struct mount_attr)) < 0)
        fail(SKIFF_STEP_ROOTFS_READONLY, -1);
}

static void loopback_up(void)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        fail(SKIFF_STEP_LOOPBACK, -1);
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        fail(SKIFF_STEP_LOOPBACK, 0);
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        fail(SKIFF_STEP_LOOPBACK, 1);
    close(s);
}

static void set_identity(const struct skiff_plan *p)
{
    /* The bounding set first: dropping needs CAP_SETPCAP, which capset
     * below may take away. */
    for (uint32_t c = 0; c <= p->cap_last && c < 64; c++) {
        if (!(p->cap_bounding & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
            fail(SKIFF_STEP_CAP_BOUNDING, (int32_t)c);
    }
    /* Keep the permitted set across the uid change; capset sets the exact
     * sets afterwards. Raw syscalls: glibc's setxid machinery broadcasts to
     * threads it remembers from the parent. */
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        fail(SKIFF_STEP_KEEPCAPS, -1);
    if (p->set_groups && syscall(SYS_setgroups, (size_t)p->n_groups, p->groups) < 0)
        fail(SKIFF_STEP_SETGROUPS, -1);
    if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0)
        fail(SKIFF_STEP_SETGID, -1);
    if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0)
        fail(SKIFF_STEP_SETUID, -1);
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        fail(SKIFF_STEP_KEEPCAPS, -1);

    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2] = {
        { .effective = (uint32_t)p->cap_effective, .permitted = (uint32_t)p->cap_permitted,
          .inheritable = (uint32_t)p->cap_inheritable },
        { .effective = (uint32_t)(p->cap_effective >> 32), .permitted = (uint32_t)(p->cap_permitted >> 32),
          .inheritable = (uint32_t)(p->cap_inheritable >> 32) },
    };
    if (syscall(SYS_capset, &hdr, data) < 0)
        fail(SKIFF_STEP_CAPSET, -1);
    for (uint32_t c = 0; c <= p->cap_last && c < 64; c++) {
        if ((p->cap_ambient & (1ULL << c)) &&
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
            fail(SKIFF_STEP_CAP_AMBIENT, (int32_t)c);
    }
}

static void load_seccomp(const struct skiff_plan *p)
{
    if (!p->seccomp_filter)
        return;
    struct sock_fprog prog = {
        .len = (unsigned short)p->seccomp_len,
        .filter = (struct sock_filter *)p->seccomp_filter,
    };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog) < 0)
        fail(SKIFF_STEP_SECCOMP, -1);
}

__attribute__((noreturn)) static void child(const struct skiff_plan *p)
{
    report_fd = p->sync_fd;
    if (p->stage_name)
        prctl(PR_SET_NAME, p->stage_name, 0, 0, 0);

    /* Descriptors first: the child keeps stdio, the preserved fds and the
     * ones the plan names. Whatever the caller leaked into skiff never
     * reaches the container (CVE-2024-21626), and a copy of the parent's
     * state-directory fd would hold its lock until execve. */
    {
        unsigned int lo = 3 + p->preserve_fds;
        for (uint32_t i = 0; i < p->n_keep_fds; i++) {
            unsigned int k = (unsigned int)p->keep_fds[i];
            if (k < lo)
                continue;
            if (k > lo && close_range(lo, k - 1, 0) < 0)
                fail(SKIFF_STEP_FDS, -1);
            lo = k + 1;
        }
        if (close_range(lo, ~0U, 0) < 0)
            fail(SKIFF_STEP_FDS, -1);
    }
    for (uint32_t i = 0; i < p->preserve_fds; i++) {
        int fd = 3 + (int)i;
        int fl = fcntl(fd, F_GETFD);
        if (fl < 0 || fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
            fail(SKIFF_STEP_FDS, fd);
    }

    /* The parent blocks the signals it forwards; the container starts with
     * default dispositions and an empty mask. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) {
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &dfl, NULL); /* glibc refuses its internal ones: fine */
    }
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        fail(SKIFF_STEP_SIGNALS, -1);

    /* A new user namespace comes first: until its maps are written we own
     * no ids in it, and every later step needs the capabilities it grants. */
    if (p->wait_usermap) {
        expect_msg(p->sync_fd, SKIFF_SYNC_USERMAP_ACK);
        if (p->userns_root &&
            (syscall(SYS_setresgid, 0, 0, 0) < 0 || syscall(SYS_setresuid, 0, 0, 0) < 0))
            fail(SKIFF_STEP_USERNS_ROOT, -1);
    }
    /* Idmapped binds the parent made (after our maps: it may idmap with them). */
    if (p->n_parent_trees)
        receive_trees(p->sync_fd, p->n_parent_trees);
    /* Namespaces given by path, the user namespace first so that the others
     * are joined with the capabilities it grants. */
    for (uint32_t i = 0; i < p->n_joins; i++) {
        if (setns(p->joins[i].fd, p->joins[i].nstype) < 0)
            fail(SKIFF_STEP_SETNS, (int32_t)i);
    }
    /* A time namespace takes its offsets before any process is in it: make
     * it for our children, write them, then enter it ourselves. */
    if (p->new_timens) {
        if (unshare(CLONE_NEWTIME) < 0)
            fail(SKIFF_STEP_TIMENS, -1);
        if (p->timens_offsets) {
            int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
            size_t len = strlen(p->timens_offsets);
            if (fd < 0 || write(fd, p->timens_offsets, len) != (ssize_t)len)
                fail(SKIFF_STEP_TIMENS_OFFSETS, -1);
            close(fd);
        }
        int fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWTIME) < 0)
            fail(SKIFF_STEP_TIMENS_ENTER, -1);
        close(fd);
    }

    /* Modes of created directories and nodes are exact; the process umask is
     * set just before execve. */
    umask(0);
    setup_rootfs(p);

    if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
        fail(SKIFF_STEP_HOSTNAME, -1);
    if (p->domainname && setdomainname(p->domainname, strlen(p->domainname)) < 0)
        fail(SKIFF_STEP_DOMAINNAME, -1);
    if (p->loopback_up)
        loopback_up();
    /* rlimits while we still hold CAP_SYS_RESOURCE (raising a hard limit). */
    for (uint32_t i = 0; i < p->n_rlimits; i++) {
        struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
        if (setrlimit(p->rlimits[i].resource, &rl) < 0)
            fail(SKIFF_STEP_RLIMIT, (int32_t)i);
    }
    if (p->personality >= 0 && syscall(SYS_personality, (unsigned long)p->personality) < 0)
        fail(SKIFF_STEP_PERSONALITY, -1);

    /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the
     * identity change drops: load it now (as runc does); the steps after
     * this must then be allowed by the profile. */
    if (p->seccomp_early)
        load_seccomp(p);
    set_identity(p);
    if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        fail(SKIFF_STEP_NO_NEW_PRIVS, -1);
    /* chdir as the container user, after the identity change. */
    if (chdir(p->cwd) < 0)
        fail(SKIFF_STEP_CHDIR, -1);
    {
        /* A cwd outside the root (a leaked directory fd, CVE-2024-21626)
         * shows as ENOENT or "(unreachable)" from getcwd. */
        char buf[PATH_MAX];
        long r = syscall(SYS_getcwd, buf, sizeof buf);
        if (r < 0 || buf[0] != '/') {
            if (r >= 0)
                errno = ENOENT;
            fail(SKIFF_STEP_CWD_VERIFY, -1);
        }
    }
    umask(p->umask);

    /* Setup is done; tell the parent and wait for the word to exec. */
    send_msg(p->sync_fd, SKIFF_SYNC_READY, 0, 0, -1);
    uint32_t go = recv_msg(p->sync_fd);
    if (go == SKIFF_SYNC_COMMIT) {
        /* `create` is done and gone. Wait for `start` on the listening
         * socket; a connection that does not say START is dropped. */
        close(p->sync_fd);
        report_fd = -1;
        for (;;) {
            int c = accept4(p->start_fd, NULL, NULL, SOCK_CLOEXEC);
            if (c < 0) {
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                _exit(1);
            }
            skiff_msg m;
            ssize_t r;
            do {
                r = recv(c, &m, sizeof m, 0);
            } while (r < 0 && errno == EINTR);
            if (r == (ssize_t)sizeof m && m.type == SKIFF_SYNC_START) {
                report_fd = c;
                break;
            }
            close(c);
        }
        close(p->start_fd);
    } else if (go != SKIFF_SYNC_START) {
        errno = EPROTO;
        fail(SKIFF_STEP_PROTOCOL, (int32_t)((SKIFF_SYNC_START << 16) | (go & 0xffff)));
    }

    /* As close to execve as possible: every syscall after this one must be
     * allowed by the profile. */
    if (!p->seccomp_early)
        load_seccomp(p);

    int saw_eacces = 0;
    for (uint32_t i = 0; i < p->n_exec_paths; i++) {
        execve(p->exec_paths[i], (char *const *)p->argv, (char *const *)p->envp);
        if (errno == EACCES)
            saw_eacces = 1;
        else if (errno != ENOENT && errno != ENOTDIR)
            fail(SKIFF_STEP_EXEC, (int32_t)i);
    }
    errno = saw_eacces ? EACCES : ENOENT;
    fail(SKIFF_STEP_EXEC, -1);
}

int skiff_make_tree(const struct skiff_mount *m, uint32_t *step)
{
    *step = SKIFF_STEP_MOUNT_SOURCE;
    int tree = open_tree(AT_FDCWD, m->source,
                         OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((m->flags & SKIFF_MF_RECURSIVE) ? AT_RECURSIVE : 0));
    if (tree < 0)
        return -errno;
    int r = 0;
    if (m->userns_fd >= 0) {
        *step = SKIFF_STEP_MOUNT_IDMAP;
        r = setattr(tree, m->idmap_recursive ? AT_RECURSIVE : 0, MOUNT_ATTR_IDMAP, 0, 0, m->userns_fd);
    }
    if (r == 0 && (m->rattr_set || m->rattr_clr)) {
        *step = SKIFF_STEP_MOUNT_ATTR;
        r = setattr(tree, AT_RECURSIVE, m->rattr_set, m->rattr_clr, 0, -1);
    }
    if (r == 0 && (m->attr_set || m->attr_clr)) {
        *step = SKIFF_STEP_MOUNT_ATTR;
        r = setattr(tree, 0, m->attr_set, m->attr_clr, 0, -1);
    }
    if (r < 0) {
        int err = errno;
        close(tree);
        return -err;
    }
    return tree;
}

int skiff_send_fds(int sock, uint32_t type, const int *fds, uint32_t n)
{
    if (n > SKIFF_MAX_PARENT_TREES)
        return -EINVAL;
    skiff_msg m = { .type = type, .step = 0, .error = 0, .index = (int32_t)n };
    char control[CMSG_SPACE(sizeof(int) * SKIFF_MAX_PARENT_TREES)];
    memset(control, 0, sizeof control);
    struct iovec iov = { .iov_base = &m, .iov_len = sizeof m };
    struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                        .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    ssize_t r;
    do {
        r = sendmsg(sock, &h, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

pid_t skiff_spawn_userns_holder(int *pidfd)
{
    int fd = -1;
    struct skiff_clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWUSER | CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)&fd;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        for (;;)
            pause();
    }
    *pidfd = fd;
    return (pid_t)pid;
}

pid_t skiff_spawn(const struct skiff_plan *p, int *pidfd)
{
    if (p->version != SKIFF_PLAN_VERSION)
        return -EINVAL;
    int fd = -1;
    struct skiff_clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = p->clone_flags | CLONE_PIDFD;
    if (p->cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)p->cgroup_fd;
    }
    args.pidfd = (uint64_t)(uintptr_t)&fd;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        return -errno;
    if (pid == 0)
        child(p);
    *pidfd = fd;
    return (pid_t)pid;
}
