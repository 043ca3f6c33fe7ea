/* The root filesystem: mounts in order, devices, pivot_root, then what is
 * done inside the new root (sysctls, masks, read-only paths). */
#include "internal.h"

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

