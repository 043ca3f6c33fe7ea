/* Paths inside the rootfs: every lookup resolved with RESOLVE_IN_ROOT from
 * an fd of the rootfs, every creation in a directory fd. */
#include "internal.h"

const uint64_t in_root = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

/* A walk down a path inside the rootfs, creating what is missing. */
struct walk {
    int rootfd;
    struct open_how how, dir;
    int create; /* CREATE_DIR or CREATE_FILE */
    int nofollow; /* NO_SYMLINKS was asked: no symlink at all on the way */
    int links; /* dangling symlinks followed so far */
    char buf[PATH_MAX];
    size_t start, end; /* the component walked: buf[start..end) */
    int last; /* it is the path's last one */
};

enum { WALK_OPENED, WALK_RESTART, WALK_FAILED };

/* The deepest ancestor that exists (usually the parent), so that the walk
 * starts below it rather than from the root again; sets w->start to its
 * next component. -1 when none exists, -2 on any other error. */
static int deepest_ancestor(struct walk *w, size_t len)
{
    w->start = 0;
    for (size_t cut = len; cut > 0;) {
        while (cut > 0 && w->buf[cut - 1] != '/')
            cut--;
        if (cut == 0)
            break;
        w->buf[cut - 1] = '\0';
        int up = sys_openat2(w->rootfd, w->buf, &w->dir);
        w->buf[cut - 1] = '/';
        if (up >= 0) {
            w->start = cut;
            return up;
        }
        if (errno != ENOENT && errno != ENOTDIR)
            return -2;
        cut--;
    }
    return -1;
}

/* The directory the walked component goes in. */
static int walk_parent(struct walk *w)
{
    if (w->start == 0)
        return sys_openat2(w->rootfd, ".", &w->dir);
    w->buf[w->start - 1] = '\0';
    int parent = sys_openat2(w->rootfd, w->buf, &w->dir);
    w->buf[w->start - 1] = '/';
    return parent;
}

/* The walked component is a dangling symlink to `link`: the path becomes
 * <dir of the link>/<link>/<rest>, or <link>/<rest> for an absolute link
 * (absolute means the container's root), with no empty components. */
static int through_link(struct walk *w, const char *link)
{
    char next[PATH_MAX];
    size_t off = 0;
    const char *l = link;
    if (link[0] == '/') {
        while (*l == '/')
            l++;
    } else if (w->start > 0) {
        memcpy(next, w->buf, w->start);
        off = w->start;
    }
    size_t ll = strlen(l), rest = w->last ? 0 : strlen(w->buf + w->end + 1);
    if (off + ll + 1 + rest + 1 > sizeof next) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(next + off, l, ll);
    off += ll;
    if (!w->last) {
        next[off++] = '/';
        memcpy(next + off, w->buf + w->end + 1, rest);
        off += rest;
    }
    next[off] = '\0';
    /* No empty components: drop leading, doubled and trailing slashes. */
    size_t n = 0;
    for (size_t r = 0; r < off; r++) {
        if (next[r] == '/' && (n == 0 || w->buf[n - 1] == '/'))
            continue;
        w->buf[n++] = next[r];
    }
    while (n > 0 && w->buf[n - 1] == '/')
        n--;
    w->buf[n] = '\0';
    return 0;
}

/* Makes the walked component in `parent` (closed here): the file when it is
 * the last one and a file is asked for, else a directory. A dangling
 * symlink in its place has its target made instead, as runc does (an
 * image's /etc/resolv.conf -> ../run/...): the path is rewritten through it
 * and walked again from the root, resolved inside it like any other. */
static int make_missing(struct walk *w, int parent, int *fd)
{
    const char *name = w->buf + w->start;
    int r;
    if (w->last && w->create == CREATE_FILE) {
        int f = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        r = f < 0 ? -1 : close(f);
    } else {
        r = mkdirat(parent, name, 0755);
    }
    if (r < 0 && errno == EEXIST && w->nofollow) {
        close(parent);
        errno = ELOOP;
        return WALK_FAILED;
    }
    if (r < 0 && errno == EEXIST) {
        char link[PATH_MAX];
        ssize_t n = readlinkat(parent, name, link, sizeof link - 1);
        int err = errno;
        close(parent);
        if (n < 0 && err == EINVAL) {
            /* Not a link: someone made it between our lookup and the
             * mkdir (containers sharing a rootfs): open it. */
            *fd = sys_openat2(w->rootfd, w->buf, &w->how);
            return *fd < 0 ? WALK_FAILED : WALK_OPENED;
        }
        if (n < 0) {
            errno = err;
            return WALK_FAILED;
        }
        if (++w->links > 40) {
            errno = ELOOP;
            return WALK_FAILED;
        }
        link[n] = '\0';
        return through_link(w, link) < 0 ? WALK_FAILED : WALK_RESTART;
    }
    int err = errno;
    close(parent);
    if (r < 0) {
        errno = err;
        return WALK_FAILED;
    }
    *fd = sys_openat2(w->rootfd, w->buf, &w->how);
    return *fd < 0 ? WALK_FAILED : WALK_OPENED;
}

/*
 * Open `path` (relative, normalised by the planner) below `rootfd` as an
 * O_PATH fd, creating what is missing. Every lookup is resolved from the
 * root with RESOLVE_IN_ROOT, so a symlink anywhere in the image leads to a
 * place inside the rootfs, never onto the host; creation happens in a
 * directory fd, never by path.
 */
int open_in_root(int rootfd, const char *path, int create)
{
    /* NO_SYMLINKS: no symlink anywhere on the way, not even one that stays
     * inside the root (/proc, /sys, /dev and what is below them). */
    uint64_t resolve = in_root | ((create & NO_SYMLINKS) ? RESOLVE_NO_SYMLINKS : 0);
    struct walk w = {
        .rootfd = rootfd,
        .how = { .flags = O_PATH | O_CLOEXEC, .resolve = resolve },
        .dir = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = resolve },
        .create = create & ~NO_SYMLINKS,
        .nofollow = (create & NO_SYMLINKS) != 0,
    };
    size_t len = strlen(path);
    if (len == 0)
        return sys_openat2(rootfd, ".", &w.how);
    int fd = sys_openat2(rootfd, path, &w.how);
    if (fd >= 0 || errno != ENOENT || w.create == NO_CREATE)
        return fd;
    if (len >= sizeof w.buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(w.buf, path, len + 1);
    int known_parent = deepest_ancestor(&w, len); /* its next component is missing */
    if (known_parent == -2)
        return -1;
    for (;;) {
        w.end = w.start;
        while (w.buf[w.end] != '\0' && w.buf[w.end] != '/')
            w.end++;
        w.last = w.buf[w.end] == '\0';
        char saved = w.buf[w.end];
        w.buf[w.end] = '\0';
        fd = -1;
        if (known_parent < 0) {
            fd = sys_openat2(rootfd, w.buf, &w.how);
            if (fd < 0 && errno != ENOENT)
                return -1;
        }
        if (fd < 0) {
            int parent = known_parent >= 0 ? known_parent : walk_parent(&w);
            known_parent = -1;
            if (parent < 0)
                return -1;
            int step = make_missing(&w, parent, &fd);
            if (step == WALK_FAILED)
                return -1;
            if (step == WALK_RESTART) {
                if (w.buf[0] == '\0')
                    return sys_openat2(rootfd, ".", &w.how);
                w.start = 0;
                continue;
            }
        }
        w.buf[w.end] = saved;
        if (w.last)
            return fd;
        close(fd);
        w.start = w.end + 1;
    }
}

static int open_parent_uncached(int rootfd, const char *path, const char **name);

/* The directory that holds `path`, created if missing; *name is its last
 * component. The last one is kept open: devices and links come in runs
 * that share their directory (dev/). */
static int cached_parent = -1;
static char cached_parent_path[PATH_MAX];

int open_parent_in_root(int rootfd, const char *path, const char **name)
{
    const char *slash0 = strrchr(path, '/');
    size_t plen = slash0 ? (size_t)(slash0 - path) : 0;
    if (cached_parent >= 0 && plen < sizeof cached_parent_path && strlen(cached_parent_path) == plen &&
        memcmp(cached_parent_path, path, plen) == 0) {
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

void forget_parent(void)
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
    return open_in_root(rootfd, buf, CREATE_DIR | NO_SYMLINKS);
}

/* The host path of the rootfs (after it was bound onto itself), to tell
 * where a resolved fd is inside the container. Asked of the kernel (a
 * readlink through /proc, whose first use in a new process builds its
 * /proc entries) only when a check needs it: runc spec's config never
 * does. The fd stays open until pivot_root. */
static int root_fd = -1;
static char root_prefix[PATH_MAX];
static size_t root_prefix_len;

void remember_root(int rootfd)
{
    root_fd = rootfd;
    root_prefix_len = 0;
}

const char *root_host_path(void)
{
    if (root_prefix_len == 0) {
        char proc[32];
        fd_path(proc, root_fd);
        ssize_t n = readlink(proc, root_prefix, sizeof root_prefix - 1);
        if (n <= 0)
            return NULL;
        root_prefix[n] = '\0';
        root_prefix_len = (size_t)n;
    }
    return root_prefix;
}

/* Where an fd below the rootfs is, as a path relative to the container's
 * root ("" for the root itself), written to buf; -1 when that cannot be
 * told (the fd is outside the root: EXDEV). */
int path_in_root(int fd, char buf[PATH_MAX], const char **rel)
{
    char proc[32];
    fd_path(proc, fd);
    ssize_t n = readlink(proc, buf, PATH_MAX - 1);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    if (!root_host_path())
        return -1;
    size_t l = root_prefix_len;
    if ((size_t)n < l || memcmp(buf, root_prefix, l) != 0 ||
        (buf[l] != '\0' && buf[l] != '/' && !(l == 1 && root_prefix[0] == '/'))) {
        errno = EXDEV;
        return -1;
    }
    *rel = buf + l + (buf[l] == '/');
    return 0;
}
