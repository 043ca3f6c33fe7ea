/* The parent's side of idmapped mounts: a user namespace with a mount's own
 * mappings (held by a process that only waits), and bind trees the parent
 * makes and idmaps because the child cannot (root's binds of host
 * filesystems; every bind of root's container in a user namespace). */
#include "internal.h"

pid_t skiff_spawn_userns_holder(int *pidfd)
{
    int fd = -1;
    struct skiff_clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWUSER | CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)&fd;
    args.exit_signal = SIGCHLD;
    pid_t parent = getpid();
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* Gone with a skiff that is killed before it kills us. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
            _exit(1);
        for (;;)
            pause();
    }
    *pidfd = fd;
    return (pid_t)pid;
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
