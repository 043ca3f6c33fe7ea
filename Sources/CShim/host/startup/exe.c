/*
 * Parent side: the binary a container can reach through /proc/<pid>/exe.
 *
 * The container's first process is a clone of skiff, so until execve its
 * /proc/<pid>/exe is the file skiff runs from. A process in the container
 * that gets hold of it (CVE-2019-5736: through a pid namespace the two
 * share, or through a later `exec`) could reopen it for writing and replace
 * the host's binary. So create, run and exec run from a copy of the binary
 * that cannot be written: the same file seen through a read-only overlayfs
 * that is never attached anywhere (runc 1.2 does the same), or, where
 * overlayfs cannot be mounted, a sealed memfd copy (runc 1.1, crun). For
 * root the running image is moved onto the overlay's copy (exeswap.c);
 * otherwise skiff re-executes from the copy. startup.c decides which, before
 * Swift starts; ProtectedBinary.ensure checks again and reports failures.
 * See docs/design-notes.md for the costs.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <link.h>
#include <sys/sendfile.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* What /proc/self/exe is: SKIFF_EXE_READONLY (on a read-only mount or
 * superblock), SKIFF_EXE_SEALED (a memfd sealed against writes), or
 * SKIFF_EXE_WRITABLE; -errno if it cannot be told. */
int skiff_exe_kind(void)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct statvfs sv;
    int kind = SKIFF_EXE_WRITABLE;
    int seals = fcntl(fd, F_GET_SEALS);
    if (fstatvfs(fd, &sv) < 0)
        kind = -errno;
    else if (sv.f_flag & ST_RDONLY)
        kind = SKIFF_EXE_READONLY;
    else if (seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_SEAL)) == (F_SEAL_WRITE | F_SEAL_SEAL))
        kind = SKIFF_EXE_SEALED;
    close(fd);
    return kind;
}

/* The directory of the running binary, and its file name. */
static int exe_location(char dir[PATH_MAX], const char **name)
{
    ssize_t n = readlink("/proc/self/exe", dir, PATH_MAX - 1);
    if (n < 0)
        return -1;
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash || dir[0] != '/' || (n > 10 && strcmp(dir + n - 10, " (deleted)") == 0)) {
        errno = ENOENT;
        return -1;
    }
    *slash = '\0';
    *name = slash + 1;
    if (dir[0] == '\0') {
        dir[0] = '/';
        dir[1] = '\0';
    }
    return 0;
}

/* `name` in a read-only overlayfs of `dir` over `second`, detached. */
static int overlay_open(const char *dir, const char *second, const char *name)
{
    char lower[PATH_MAX + 64];
    size_t dl = strlen(dir), sl = strlen(second);
    if (strchr(dir, ':') || strchr(dir, ',') || dl + sl + 2 > sizeof lower) {
        errno = EINVAL; /* overlayfs option syntax cannot carry this path */
        return -1;
    }
    memcpy(lower, dir, dl);
    lower[dl] = ':';
    memcpy(lower + dl + 1, second, sl + 1);
    int exe = -1, mnt = -1, ov = fsopen("overlay", FSOPEN_CLOEXEC);
    if (ov >= 0 && fsconfig(ov, FSCONFIG_SET_STRING, "lowerdir", lower, 0) == 0 &&
        fsconfig(ov, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
        mnt = fsmount(ov, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
    if (mnt >= 0)
        exe = openat(mnt, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int err = errno;
    if (mnt >= 0)
        close(mnt);
    if (ov >= 0)
        close(ov);
    errno = err;
    return exe;
}

/*
 * The binary through a read-only overlayfs of its directory, detached.
 * Without an upper layer overlayfs wants a second lower one, which must not
 * overlap the first; only names missing from the first are looked up in
 * it, and only the binary's name is. An existing directory of another
 * filesystem is used when one is there: each detached mount costs an RCU
 * grace period when its last fd is closed (more just after a container
 * has gone; docs/design-notes.md), so a detached empty tmpfs, the
 * fallback, costs a second one.
 */
int overlay_copy(void)
{
    char dir[PATH_MAX], empty_path[32];
    const char *name;
    if (exe_location(dir, &name) < 0)
        return -1;
    static const char *const seconds[] = { "/sys/fs", "/dev/pts" };
    for (size_t i = 0; i < sizeof seconds / sizeof *seconds; i++) {
        int exe = overlay_open(dir, seconds[i], name);
        if (exe >= 0)
            return exe;
    }
    int empty = -1, tmp = fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (tmp < 0)
        return -1;
    if (fsconfig(tmp, FSCONFIG_SET_STRING, "mode", "0500", 0) == 0 &&
        fsconfig(tmp, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
        empty = fsmount(tmp, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY);
    close(tmp);
    if (empty < 0)
        return -1;
    fd_path(empty_path, empty);
    int exe = overlay_open(dir, empty_path, name);
    int err = errno;
    close(empty);
    errno = err;
    return exe;
}

/* A sealed memfd copy of the binary. */
static int memfd_copy(void)
{
    int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (src < 0)
        return -1;
    int fd = memfd_create("skiff", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL)
        fd = memfd_create("skiff", MFD_CLOEXEC | MFD_ALLOW_SEALING); /* before 6.3 */
    struct stat st;
    if (fd < 0 || fstat(src, &st) < 0)
        goto fail;
    for (off_t left = st.st_size; left > 0;) {
        ssize_t n = sendfile(fd, src, NULL, (size_t)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            goto fail;
        }
        left -= n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        goto fail;
    close(src);
    return fd;
fail:;
    int err = errno;
    close(src);
    if (fd >= 0)
        close(fd);
    errno = err;
    return -1;
}

int skiff_exec_protected(char *const argv[], char *const envp[], int allow_memfd, int *used_memfd)
{
    *used_memfd = 0;
    int fd = overlay_copy();
    if (fd < 0 && allow_memfd) {
        *used_memfd = 1;
        fd = memfd_copy();
    }
    if (fd < 0)
        return -errno;
    syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
    int err = errno;
    close(fd);
    return -err;
}

/* The marker of a re-exec names the process that made it: execve keeps
 * the pid, so only our own re-exec matches; one inherited from another
 * skiff (or set by hand) is not believed. */
int skiff_reexecuted(void)
{
    const char *m = getenv("_SKIFF_PROTECTED_EXE");
    if (!m)
        return 0;
    char *end;
    long pid = strtol(m, &end, 10);
    return *m && *end == '\0' && pid == (long)getpid();
}
