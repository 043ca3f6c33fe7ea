/* The root filesystem: mounts in order, devices, pivot_root, then what is
 * done inside the new root (sysctls, masks, read-only paths). */
#include "internal.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/*
 * --no-pivot (a rootfs on ramfs, where pivot_root is impossible): the old
 * root stays in the mount namespace under the container's, so the host's
 * procfs and sysfs mounts are detached first (or covered with an empty
 * tmpfs where the kernel locks them): the kernel lets a container mount
 * procfs only while a full one is visible in its namespace. Then the
 * rootfs is moved onto / and chroot'ed into, as runc does. Isolation is
 * weaker than with pivot_root: a process with CAP_SYS_CHROOT can leave a
 * chroot.
 */
static char mountinfo[1 << 18];

static void detach_host_kernel_fs(void)
{
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail(SKIFF_STEP_PIVOT_ROOT, 10);
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, mountinfo + len, sizeof mountinfo - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail(SKIFF_STEP_PIVOT_ROOT, 10);
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == sizeof mountinfo - 1) {
            errno = E2BIG;
            fail(SKIFF_STEP_PIVOT_ROOT, 10);
        }
    }
    close(fd);
    mountinfo[len] = '\0';
    const char *rootfs = root_host_path();
    if (!rootfs)
        fail(SKIFF_STEP_PIVOT_ROOT, 10);
    size_t rl = strlen(rootfs);
    for (char *line = mountinfo; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        /* id parent major:minor root mountpoint options [optional...] - fstype ... */
        char *f[5] = { 0 };
        char *p = line;
        for (int k = 0; k < 5 && p; k++) {
            f[k] = p;
            p = strchr(p, ' ');
            if (p)
                *p++ = '\0';
        }
        char *dash = p ? strstr(p, " - ") : NULL;
        line = next;
        if (!f[4] || !dash)
            continue;
        char *fstype = dash + 3;
        char *end = strchr(fstype, ' ');
        if (end)
            *end = '\0';
        if (strcmp(f[3], "/") != 0 || (strcmp(fstype, "proc") != 0 && strcmp(fstype, "sysfs") != 0))
            continue;
        unescape(f[4]);
        if (strncmp(f[4], rootfs, rl) == 0 && (f[4][rl] == '\0' || f[4][rl] == '/'))
            continue;
        if (umount2(f[4], MNT_DETACH) == 0 || errno == ENOENT)
            continue;
        if (errno != EINVAL && errno != EPERM)
            fail(SKIFF_STEP_PIVOT_ROOT, 11);
        if (mount("tmpfs", f[4], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0") < 0 &&
            errno != ENOENT)
            fail(SKIFF_STEP_PIVOT_ROOT, 12);
    }
}

static void move_root(int rootfd)
{
    detach_host_kernel_fs();
    if (fchdir(rootfd) < 0)
        fail(SKIFF_STEP_PIVOT_ROOT, 13);
    if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
        fail(SKIFF_STEP_PIVOT_ROOT, 14);
    if (chroot(".") < 0)
        fail(SKIFF_STEP_PIVOT_ROOT, 15);
    if (chdir("/") < 0)
        fail(SKIFF_STEP_PIVOT_ROOT, 16);
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

/* True if fd is on a filesystem of that magic number. */
static int on_fs(int fd, long magic)
{
    struct statfs sf;
    return fstatfs(fd, &sf) == 0 && (long)sf.f_type == magic;
}

/*
 * Sysctls are written by real root before privileges drop, so a write
 * that lands anywhere but the kernel's own file changes the host
 * (CVE-2025-52881, and the fake /proc of CVE-2019-19921). They go through
 * a procfs skiff mounts itself, detached and never seen by the container:
 * nothing of the image or the config can be mounted over it, and each file
 * is opened beneath it with no symlink and no crossing into another mount,
 * then checked to be procfs.
 */
static void write_sysctls(const struct skiff_plan *p)
{
    if (p->n_sysctls == 0)
        return;
    int fs = fsopen("proc", FSOPEN_CLOEXEC);
    if (fs < 0 || fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        fail(SKIFF_STEP_PROCFS, -1);
    int proc = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (proc < 0)
        fail(SKIFF_STEP_PROCFS, -1);
    close(fs);
    struct open_how how = {
        .flags = O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    for (uint32_t i = 0; i < p->n_sysctls; i++) {
        const char *path = p->sysctl_paths[i];
        if (strncmp(path, "/proc/", 6) != 0) {
            errno = EINVAL;
            fail(SKIFF_STEP_SYSCTL, (int32_t)i);
        }
        int fd = sys_openat2(proc, path + 6, &how);
        if (fd < 0)
            fail(SKIFF_STEP_SYSCTL, (int32_t)i);
        if (!on_fs(fd, PROC_SUPER_MAGIC)) {
            errno = EMEDIUMTYPE;
            fail(SKIFF_STEP_SYSCTL, (int32_t)i);
        }
        size_t len = strlen(p->sysctl_values[i]);
        if (write(fd, p->sysctl_values[i], len) != (ssize_t)len)
            fail(SKIFF_STEP_SYSCTL, (int32_t)i);
        close(fd);
    }
    close(proc);
}

/*
 * A masked or read-only path under /proc or /sys is looked up beneath the
 * container's /proc or /sys, reached with no symlink and checked to be
 * procfs or sysfs: a mask must cover the kernel's file, not a look-alike
 * tree (CVE-2019-16884, CVE-2023-27561). Elsewhere, inside the root.
 * Returns the fd, or -1 (ENOENT: nothing to cover; EMEDIUMTYPE: /proc or
 * /sys is not the kernel's).
 */
static int kernel_dir[2] = { -1, -1 };

static int open_protected_path(const char *path, int flags)
{
    static const struct {
        const char *prefix;
        size_t len;
        long magic;
    } bases[2] = {
        { "/proc/", 6, PROC_SUPER_MAGIC },
        { "/sys/", 5, SYSFS_MAGIC },
    };
    for (int b = 0; b < 2; b++) {
        if (strncmp(path, bases[b].prefix, bases[b].len) != 0)
            continue;
        if (kernel_dir[b] < 0) {
            char dir[8];
            memcpy(dir, bases[b].prefix, bases[b].len - 1);
            dir[bases[b].len - 1] = '\0';
            struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                                    .resolve = in_root | RESOLVE_NO_SYMLINKS };
            int fd = sys_openat2(AT_FDCWD, dir, &how);
            if (fd < 0)
                return -1;
            if (!on_fs(fd, bases[b].magic)) {
                /* Nothing to cover if the path is not there at all. */
                struct open_how look = { .flags = O_PATH | O_CLOEXEC, .resolve = in_root };
                int t = sys_openat2(AT_FDCWD, path, &look);
                close(fd);
                if (t >= 0) {
                    close(t);
                    errno = EMEDIUMTYPE;
                }
                return -1;
            }
            kernel_dir[b] = fd;
        }
        struct open_how how = { .flags = (uint64_t)flags | O_CLOEXEC,
                                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
        return sys_openat2(kernel_dir[b], path + bases[b].len, &how);
    }
    return open_root_path(path, flags);
}

static void forget_kernel_dirs(void)
{
    for (int b = 0; b < 2; b++) {
        if (kernel_dir[b] >= 0)
            close(kernel_dir[b]);
        kernel_dir[b] = -1;
    }
}

static void mask_paths(const struct skiff_plan *p)
{
    int null = -1;
    for (uint32_t i = 0; i < p->n_masked; i++) {
        int target = open_protected_path(p->masked[i], O_PATH);
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
        int target = open_protected_path(p->readonly[i], O_PATH);
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

/* The mounts in the listed order (the spec requires it); each target is
 * resolved inside the rootfs after the mounts before it are in place.
 * Returns the rootfs fd (a bind onto / replaces it); the fds of the mounts
 * made read-only later are kept in late_fd: such a mount is reached again
 * through its fd, never by its path. */
static int make_mounts(const struct skiff_plan *p, int rootfd, int *late_fd)
{
    for (uint32_t i = 0; i < p->n_mounts; i++) {
        if (i == p->cgroup_wait_mount)
            await_cgroup(p);
        int fd = do_mount(rootfd, &p->mounts[i], (int32_t)i);
        if (p->mounts[i].target[0] == '\0') {
            /* A bind onto / replaces the rootfs (runc's meaning): what comes
             * after goes into the new one, through the same host path
             * (which now leads to the mount made on it). */
            close(rootfd);
            rootfd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (rootfd < 0)
                fail(SKIFF_STEP_ROOTFS_OPEN, -1);
            remember_root(rootfd);
        }
        for (uint32_t k = 0; k < p->n_late_readonly && fd >= 0; k++) {
            if (p->late_readonly[k] == i) {
                late_fd[k] = fd;
                fd = -1;
            }
        }
        if (fd >= 0)
            close(fd);
    }
    return rootfd;
}

/* Directories, devices, links and the console in the /dev the mounts made;
 * the cwd. */
static void make_entries(const struct skiff_plan *p, int rootfd)
{
    await_cgroup(p); /* if no mount needed it: before the device nodes */
    for (uint32_t i = 0; i < p->n_dirs; i++) {
        int fd = open_in_root(rootfd, p->dirs[i], CREATE_DIR | NO_SYMLINKS);
        if (fd < 0)
            fail(SKIFF_STEP_DEVICE_DIR, (int32_t)i);
        close(fd);
    }
    for (uint32_t i = 0; i < p->n_devices; i++)
        make_device(rootfd, &p->devices[i], (int32_t)i);
    for (uint32_t i = 0; i < p->n_symlinks; i++)
        make_symlink(rootfd, &p->symlinks[i], (int32_t)i);
    make_console_file(rootfd, p);
    forget_parent();
    /* A missing cwd is made as runc and crun make it: inside the root, after
     * the mounts (it may be on one), before the root is made read-only. A
     * failure here is left for chdir to report, as the container's user. */
    if (p->cwd_in_root) {
        int cwd = open_in_root(rootfd, p->cwd_in_root, CREATE_DIR);
        if (cwd >= 0)
            close(cwd);
    }
}

static void seal_late_readonly(const struct skiff_plan *p, const int *late_fd)
{
    /* A read-only tmpfs (a `ro` /dev) becomes read-only now that its mount
     * points, devices and links are made; mounts below it keep their own
     * flags. */
    for (uint32_t k = 0; k < p->n_late_readonly; k++) {
        if (late_fd[k] < 0 || setattr(late_fd[k], 0, MOUNT_ATTR_RDONLY, 0, 0, -1) < 0) {
            if (late_fd[k] < 0)
                errno = EINVAL;
            fail(SKIFF_STEP_MOUNT_ATTR, (int32_t)p->late_readonly[k]);
        }
        close(late_fd[k]);
    }
}

/* After pivot_root: sysctls, masks, read-only paths, the rootfs's
 * propagation and read-only root. */
static void finish_root(const struct skiff_plan *p)
{
    /* Sysctls before readonly paths (they write to /proc/sys), masks before
     * readonly paths (a read-only bind must not capture an unmasked file),
     * the read-only root last: everything above writes into it. */
    write_sysctls(p);
    mask_paths(p);
    readonly_paths(p);
    forget_kernel_dirs();
    /* The requested propagation once the masks and read-only paths are in
     * place: they are clones of mounts, and an unbindable one cannot be
     * cloned (`runbindable` used to fail every mask). */
    if (p->rootfs_propagation && mount(NULL, "/", NULL, p->rootfs_propagation, NULL) < 0)
        fail(SKIFF_STEP_ROOTFS_PROPAGATION, -1);
    if (p->rootfs_readonly && mount_setattr(AT_FDCWD, "/", 0, &(struct mount_attr){ .attr_set = MOUNT_ATTR_RDONLY },
                                            sizeof(struct mount_attr)) < 0)
        fail(SKIFF_STEP_ROOTFS_READONLY, -1);
}

/* Stdio that is the host's /dev/null becomes the container's (runc's
 * reOpenDevNull): an fd on a mount outside the container is one CRIU
 * cannot checkpoint, and nothing of the host's need stay open. Only a
 * character device 1:3 reached without a symlink is used: the image's
 * /dev/null, where no /dev is mounted, may be anything. */
static void reopen_dev_null(void)
{
    int path = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat null_st;
    if (path < 0 || fstat(path, &null_st) < 0 || !S_ISCHR(null_st.st_mode) || null_st.st_rdev != makedev(1, 3)) {
        if (path >= 0)
            close(path);
        return;
    }
    char buf[32];
    fd_path(buf, path);
    int null = open(buf, O_RDWR | O_CLOEXEC);
    close(path);
    if (null < 0)
        return;
    for (int fd = 0; fd < 3; fd++) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == null_st.st_rdev &&
            (st.st_dev != null_st.st_dev || st.st_ino != null_st.st_ino) && dup3(null, fd, 0) < 0)
            fail(SKIFF_STEP_FDS, fd);
    }
    close(null);
}

void setup_rootfs(const struct skiff_plan *p)
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
    remember_root(rootfd);
    if (p->n_late_readonly > SKIFF_MAX_LATE_READONLY) {
        errno = E2BIG;
        fail(SKIFF_STEP_MOUNT_ATTR, -1);
    }
    int late_fd[SKIFF_MAX_LATE_READONLY];
    for (uint32_t k = 0; k < p->n_late_readonly; k++)
        late_fd[k] = -1;
    rootfd = make_mounts(p, rootfd, late_fd);
    /* Devices and links go into the /dev that the mounts above made. */
    make_entries(p, rootfd);
    seal_late_readonly(p, late_fd);

    /* The runtime environment is made: prestart and createRuntime run in
     * the parent, createContainer here, while the host's root is still
     * ours (runtime-spec: before pivot_root). */
    create_hooks(p);

    if (p->no_pivot)
        move_root(rootfd);
    else
        pivot(rootfd);
    close(rootfd);
    finish_root(p);
    reopen_dev_null();
}

/* The exec labels of LSMs, written after pivot_root into the container's
 * /proc, which open_protected_path checks is procfs (a label written into
 * a look-alike file would leave the process unconfined: CVE-2019-16884). */
static void write_attr(const char *path, const char *fallback, const char *value, int32_t which)
{
    int fd = open_protected_path(path, O_WRONLY);
    if (fd < 0 && errno == ENOENT && fallback)
        fd = open_protected_path(fallback, O_WRONLY);
    size_t len = strlen(value);
    if (fd < 0 || write(fd, value, len) != (ssize_t)len)
        fail(SKIFF_STEP_LSM, which);
    close(fd);
}

void set_exec_labels(const struct skiff_plan *p)
{
    if (p->apparmor_exec)
        write_attr("/proc/self/attr/apparmor/exec", "/proc/self/attr/exec", p->apparmor_exec, 0);
    if (p->selinux_exec)
        write_attr("/proc/self/attr/exec", NULL, p->selinux_exec, 1);
    forget_kernel_dirs();
}
