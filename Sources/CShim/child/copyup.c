/*
 * tmpcopyup (runc's and crun's extension): a new tmpfs starts with a copy
 * of what the directory it covers held. Everything is reached through
 * directory fds with O_NOFOLLOW: a link in the image is copied as a link,
 * never followed. Modes, owners and times are kept; hard links become
 * separate files (as with runc). No allocation: one static buffer, and a
 * bounded depth of recursion on the stack.
 */
#include "internal.h"

#include <dirent.h>

#define COPYUP_MAX_DEPTH 64

static char copy_buf[65536];

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int copy_file(int src_dir, int dst_dir, const char *name, const struct stat *st)
{
    int in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st->st_mode & 07777);
    if (out < 0) {
        close(in);
        return -1;
    }
    for (;;) {
        ssize_t n = read(in, copy_buf, sizeof copy_buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = errno;
            close(in);
            close(out);
            errno = err;
            return n < 0 ? -1 : 0;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, copy_buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                int err = errno;
                close(in);
                close(out);
                errno = err;
                return -1;
            }
            off += w;
        }
    }
}

/* Owner, mode and times of dst_dir/name as st says (links: no mode). */
static int keep_attrs(int dst_dir, const char *name, const struct stat *st)
{
    if (fchownat(dst_dir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    if (!S_ISLNK(st->st_mode) && fchmodat(dst_dir, name, st->st_mode & 07777, 0) < 0)
        return -1;
    struct timespec t[2] = { st->st_atim, st->st_mtim };
    return utimensat(dst_dir, name, t, AT_SYMLINK_NOFOLLOW);
}

static int copy_dir(int src, int dst, int depth)
{
    if (depth > COPYUP_MAX_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    char entries[4096];
    for (;;) {
        long n = syscall(SYS_getdents64, src, entries, sizeof entries);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(entries + off);
            off += d->d_reclen;
            const char *name = d->d_name;
            if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
                continue;
            struct stat st;
            if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -1;
            int r;
            if (S_ISDIR(st.st_mode)) {
                if (mkdirat(dst, name, 0700) < 0)
                    return -1;
                int s2 = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int d2 = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (s2 < 0 || d2 < 0)
                    return -1;
                r = copy_dir(s2, d2, depth + 1);
                int err = errno;
                close(s2);
                close(d2);
                errno = err;
            } else if (S_ISREG(st.st_mode)) {
                r = copy_file(src, dst, name, &st);
            } else if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t len = readlinkat(src, name, target, sizeof target - 1);
                if (len < 0)
                    return -1;
                target[len] = '\0';
                r = symlinkat(target, dst, name);
            } else {
                r = mknodat(dst, name, st.st_mode, st.st_rdev);
            }
            if (r < 0 || keep_attrs(dst, name, &st) < 0)
                return -1;
        }
    }
}

/* `below`: the directory the tmpfs now covers (opened before the mount);
 * `root`: the new tmpfs. Its root takes the directory's owner too. */
void copy_up(int below, int root, int32_t i)
{
    int src = openat(below, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int dst = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (src < 0 || dst < 0 || fstat(src, &st) < 0 || copy_dir(src, dst, 0) < 0 || fchown(dst, st.st_uid, st.st_gid) < 0)
        fail(SKIFF_STEP_MOUNT_COPYUP, i);
    close(src);
    close(dst);
}
