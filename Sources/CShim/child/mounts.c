/* Mounts, devices and links in the rootfs, before pivot_root. The
 * parent's side of idmapped binds is host/idmap.c. */
#include "internal.h"

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
    if (sv.f_flag & ST_RDONLY)
        locked |= MOUNT_ATTR_RDONLY;
    if (sv.f_flag & ST_NOSUID)
        locked |= MOUNT_ATTR_NOSUID;
    if (sv.f_flag & ST_NODEV)
        locked |= MOUNT_ATTR_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        locked |= MOUNT_ATTR_NOEXEC;
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
    if (m->propagation && setattr(fd, m->propagation_recursive ? AT_RECURSIVE : 0, 0, 0, m->propagation, -1) < 0)
        fail(SKIFF_STEP_MOUNT_PROPAGATION, i);
}

/* A filesystem made detached (new mount API): it is idmapped, filled and
 * given its attributes before it is attached. Options are fsconfig
 * parameters: "key=value" or "flag"; attr_set holds the MOUNT_ATTR_* for
 * fsmount. */
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
    /* Attributes come later (apply_attrs): a read-only one would refuse
     * the copy and the mode that go in first. */
    int mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
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

/* How to look up a mount's target: /proc, /sys, /dev and below them must
 * be reached without any symlink (CVE-2019-19921, CVE-2023-28642). */
static int target_mode(const struct skiff_mount *m, int create)
{
    return create | ((m->flags & SKIFF_MF_NO_SYMLINKS) ? NO_SYMLINKS : 0);
}

/* Where the target resolved to, not what the config wrote, decides whether
 * a mount may go there: a symlink in the image (`/data -> /proc`) must not
 * bring a host directory onto /proc (CVE-2019-19921, CVE-2023-27561).
 * Only procfs goes on /proc, and inside it only the binds the planner
 * allowed (lxcfs's files), each exactly at its own destination. */
static void check_target(int target, const struct skiff_mount *m, int32_t i)
{
    char buf[PATH_MAX];
    const char *rel = m->target;
    /* Looked up without any symlink (RESOLVE_NO_SYMLINKS), the target is
     * where its path says: the planner normalised it (no "." or ".."), so
     * asking the kernel where the fd is (a readlink through /proc, the
     * costliest lookup here) would return the same path. */
    if (!(m->flags & SKIFF_MF_NO_SYMLINKS) && path_in_root(target, buf, &rel) < 0)
        fail(SKIFF_STEP_MOUNT_TARGET, i);
    int in_proc = strcmp(rel, "proc") == 0 || strncmp(rel, "proc/", 5) == 0;
    if (in_proc && !((m->flags & SKIFF_MF_PROC_OK) && strcmp(rel, m->target) == 0)) {
        errno = EPERM;
        fail(SKIFF_STEP_MOUNT_IN_PROC, i);
    }
}

/* Attach a detached tree at a target pinned by an fd, then set its
 * propagation through the tree's fd (attached now: the kernel refuses
 * a shared detached mount). */
static void attach_at(int target, int tree, const struct skiff_mount *m, int32_t i)
{
    if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        fail(SKIFF_STEP_MOUNT, i);
    apply_propagation(tree, m, i);
}

/* The target resolved inside the root (created as `create` when missing)
 * and checked: the only lookup of a mount's destination. */
static int pin_target(int rootfd, const struct skiff_mount *m, int32_t i, int create)
{
    int target = open_in_root(rootfd, m->target, target_mode(m, create));
    if (target < 0)
        fail(SKIFF_STEP_MOUNT_TARGET, i);
    check_target(target, m, i);
    return target;
}

/*
 * A new filesystem gets everything before it becomes visible, through its
 * own fd: the copy of the directory it covers (tmpcopyup), that
 * directory's mode when no `mode=` says otherwise, its attributes. The
 * destination is looked up once, before: whoever can write a directory on
 * the way (a shared volume) may swap it for a symlink at any moment, and
 * a second lookup would hand root's copy, chmod and chown to wherever the
 * swapped path leads (audit round 3).
 */
static int mount_fs(int rootfd, const struct skiff_mount *m, int32_t i)
{
    int target = pin_target(rootfd, m, i, CREATE_DIR);
    int tree = make_detached_fs(m);
    if (tree < 0)
        fail(SKIFF_STEP_MOUNT, i);
    idmap_tree(tree, m, i);
    if (m->flags & (SKIFF_MF_COPY_UP | SKIFF_MF_KEEP_MODE)) {
        /* `target` is the directory the filesystem will cover; the
         * filesystem's root is reached through its mount fd only. */
        int root = openat(tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        if (root < 0 || fstat(target, &st) < 0)
            fail(SKIFF_STEP_MOUNT_TARGET, i);
        if (m->flags & SKIFF_MF_COPY_UP)
            copy_up(target, root, i);
        if ((m->flags & SKIFF_MF_KEEP_MODE) && fchmod(root, st.st_mode & 07777) < 0)
            fail(SKIFF_STEP_MOUNT_ATTR, i);
        close(root);
    }
    apply_attrs(tree, m, i);
    attach_at(target, tree, m, i);
    close(target);
    return tree;
}

/* Bind sources opened right after the clone (by mount index), or the
 * errno of that attempt, reported when the mount's turn comes. */
static int early_tree[SKIFF_MAX_EARLY_BINDS];
static int early_err[SKIFF_MAX_EARLY_BINDS];
static uint32_t n_early;

void open_bind_sources(const struct skiff_plan *p)
{
    n_early = p->n_mounts < SKIFF_MAX_EARLY_BINDS ? p->n_mounts : SKIFF_MAX_EARLY_BINDS;
    for (uint32_t i = 0; i < n_early; i++) {
        const struct skiff_mount *m = &p->mounts[i];
        early_tree[i] = -1;
        early_err[i] = 0;
        if (m->kind != SKIFF_MOUNT_BIND || (m->flags & SKIFF_MF_FROM_PARENT))
            continue;
        /* A cgroup made after the clone does not exist yet: its binds
         * are opened at their turn, after await_cgroup (a cgroup
         * directory is open to every uid). */
        if (p->cgroup_late && (m->flags & SKIFF_MF_CGROUP_SOURCE))
            continue;
        early_tree[i] =
            open_tree(AT_FDCWD, m->source,
                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((m->flags & SKIFF_MF_RECURSIVE) ? AT_RECURSIVE : 0));
        if (early_tree[i] < 0)
            early_err[i] = errno;
    }
}

int do_mount(int rootfd, const struct skiff_mount *m, int32_t i)
{
    int target, tree;
    struct stat st;

    switch (m->kind) {
    case SKIFF_MOUNT_FS:
        return mount_fs(rootfd, m, i);

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
            if ((uint32_t)i < n_early && (early_tree[i] >= 0 || early_err[i])) {
                tree = early_tree[i];
                errno = early_err[i];
            } else {
                tree = open_tree(AT_FDCWD, m->source,
                                 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                     ((m->flags & SKIFF_MF_RECURSIVE) ? AT_RECURSIVE : 0));
            }
            if (tree < 0)
                fail(SKIFF_STEP_MOUNT_SOURCE, i);
            idmap_tree(tree, m, i);
            apply_attrs(tree, m, i);
        }
        if (fstat(tree, &st) < 0)
            fail(SKIFF_STEP_MOUNT_SOURCE, i);
        target = pin_target(rootfd, m, i, S_ISDIR(st.st_mode) ? CREATE_DIR : CREATE_FILE);
        attach_at(target, tree, m, i);
        close(target);
        return tree;

    case SKIFF_MOUNT_ATTR:
        tree = open_in_root(rootfd, m->target, target_mode(m, NO_CREATE));
        if (tree < 0)
            fail(SKIFF_STEP_MOUNT_TARGET, i);
        apply_attrs(tree, m, i);
        apply_propagation(tree, m, i);
        return tree;
    }
    errno = EINVAL;
    fail(SKIFF_STEP_MOUNT, i);
}

/* A node in the container's /dev (or wherever linux.devices says): made in
 * its parent directory's fd, then reached through that fd again, never by
 * the whole path, and checked to be the node made before it is chowned or
 * mounted on. */
void make_device(int rootfd, const struct skiff_device *d, int32_t i)
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
        int target = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (target < 0 || fstat(target, &st) < 0)
            fail(SKIFF_STEP_DEVICE, i);
        if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
            errno = EEXIST;
            fail(SKIFF_STEP_DEVICE, i);
        }
        if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            fail(SKIFF_STEP_DEVICE, i);
        close(target);
        close(tree);
    } else {
        if (mknodat(parent, name, d->mode, d->rdev) < 0 && errno != EEXIST)
            fail(SKIFF_STEP_DEVICE, i);
        /* New or already there, it must be this device (a link or another
         * node in its place is refused). */
        int node = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (node < 0 || fstat(node, &st) < 0)
            fail(SKIFF_STEP_DEVICE, i);
        if ((st.st_mode & S_IFMT) != (d->mode & S_IFMT) || st.st_rdev != d->rdev) {
            errno = EEXIST;
            fail(SKIFF_STEP_DEVICE, i);
        }
        if (fchownat(node, "", d->uid, d->gid, AT_EMPTY_PATH) < 0)
            fail(SKIFF_STEP_DEVICE, i);
        close(node);
    }
}

void make_symlink(int rootfd, const struct skiff_symlink *l, int32_t i)
{
    const char *name;
    int parent = open_parent_in_root(rootfd, l->path, &name);
    if (parent < 0)
        fail(SKIFF_STEP_SYMLINK, i);
    if (symlinkat(l->target, parent, name) < 0 && errno != EEXIST)
        fail(SKIFF_STEP_SYMLINK, i);
}
