/* `skiff check`: whether the kernel has the syscalls skiff uses, probed
 * with arguments that can only fail (so nothing is changed): ENOSYS means
 * missing, any other error means present. */
#include "internal.h"

static int present(long r)
{
    return (r < 0 && errno == ENOSYS) ? 0 : 1;
}

int skiff_probe_syscall(const char *name)
{
    if (strcmp(name, "clone3") == 0)
        return present(syscall(SYS_clone3, NULL, 0));
    if (strcmp(name, "openat2") == 0) {
        struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
        long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
        if (fd >= 0)
            close((int)fd);
        return present(fd);
    }
    if (strcmp(name, "open_tree") == 0)
        return present(syscall(SYS_open_tree, -1, "", 0));
    if (strcmp(name, "move_mount") == 0)
        return present(syscall(SYS_move_mount, -1, "", -1, "", 0));
    if (strcmp(name, "mount_setattr") == 0)
        return present(syscall(SYS_mount_setattr, -1, "", 0, NULL, 0));
    if (strcmp(name, "fsopen") == 0)
        return present(syscall(SYS_fsopen, NULL, 0));
    if (strcmp(name, "pidfd_open") == 0) {
        long fd = syscall(SYS_pidfd_open, getpid(), 0);
        if (fd >= 0)
            close((int)fd);
        return present(fd);
    }
    if (strcmp(name, "pidfd_send_signal") == 0)
        return present(syscall(SYS_pidfd_send_signal, -1, 0, NULL, 0));
    if (strcmp(name, "close_range") == 0)
        return present(syscall(SYS_close_range, ~0U, 0U, 0));
    errno = EINVAL;
    return -1;
}

#include <sys/xattr.h>

int skiff_has_xattr(const char *path, const char *name)
{
    return getxattr(path, name, NULL, 0) > 0;
}

/* Whether the kernel idmaps a mount: a detached tmpfs (never attached
 * anywhere) given the mappings of the user namespace `userns`. 0, or
 * -errno (EINVAL: no idmapped mounts, or not for tmpfs). */
int skiff_probe_idmap(int userns)
{
    int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0)
        return -errno;
    int mnt = -1, r;
    if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 || (mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0)) < 0) {
        r = -errno;
    } else {
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns };
        r = mount_setattr(mnt, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0 ? -errno : 0;
        close(mnt);
    }
    close(fs);
    return r;
}

#include <sys/eventfd.h>

/* An eventfd for cgroup v1's cgroup.event_control (OOM notifications). */
int skiff_eventfd(void)
{
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}
