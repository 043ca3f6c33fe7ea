/* Paths inside the rootfs: every lookup resolved with RESOLVE_IN_ROOT from
 * an fd of the rootfs, every creation in a directory fd. */
#include "internal.h"

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

const uint64_t in_root = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

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
    int nofollow = (create & NO_SYMLINKS) != 0;
    create &= ~NO_SYMLINKS;
    struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = resolve };
    struct open_how dir = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = resolve };
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
            if (r < 0 && errno == EEXIST && nofollow) {
                close(parent);
                errno = ELOOP;
                return -1;
            }
            if (r < 0 && errno == EEXIST) {
                /* A dangling symlink: create its target instead, as runc
                 * does (an image's /etc/resolv.conf -> ../run/...). The new
                 * path is resolved inside the root like any other. */
                char link[PATH_MAX];
                ssize_t n = readlinkat(parent, buf + start, link, sizeof link - 1);
                int err = errno;
                close(parent);
                if (n < 0 && err == EINVAL) {
                    /* Not a link: someone made it between our lookup and
                     * the mkdir (containers sharing a rootfs): open it. */
                    fd = sys_openat2(rootfd, buf, &how);
                    if (fd < 0)
                        return -1;
                    goto opened;
                }
                if (n < 0) {
                    errno = err;
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
    opened:
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
 * where a resolved fd is inside the container. */
static char root_prefix[PATH_MAX];
static size_t root_prefix_len;

int remember_root(int rootfd)
{
    char proc[32];
    fd_path(proc, rootfd);
    ssize_t n = readlink(proc, root_prefix, sizeof root_prefix - 1);
    if (n <= 0)
        return -1;
    root_prefix[n] = '\0';
    root_prefix_len = (size_t)n;
    return 0;
}

const char *root_host_path(void)
{
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
    size_t l = root_prefix_len;
    if (l == 0 || (size_t)n < l || memcmp(buf, root_prefix, l) != 0 ||
        (buf[l] != '\0' && buf[l] != '/' && !(l == 1 && root_prefix[0] == '/'))) {
        errno = EXDEV;
        return -1;
    }
    *rel = buf + l + (buf[l] == '/');
    return 0;
}
