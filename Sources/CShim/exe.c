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
 * overlayfs cannot be mounted, a sealed memfd copy (runc 1.1, crun).
 * See docs/design-notes.md for the costs.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
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

/* The binary through a read-only overlayfs of its directory, detached. The
 * second lower layer is an empty detached tmpfs (overlayfs wants two lower
 * layers when it has no upper one, and they must not overlap). */
static int overlay_copy(void)
{
    char dir[PATH_MAX], lower[PATH_MAX + 64], empty_path[32];
    const char *name;
    int exe = -1, empty = -1, mnt = -1, ov = -1, tmp;
    if (exe_location(dir, &name) < 0)
        return -1;
    tmp = fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (tmp < 0)
        return -1;
    if (fsconfig(tmp, FSCONFIG_SET_STRING, "mode", "0500", 0) == 0 &&
        fsconfig(tmp, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
        empty = fsmount(tmp, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY);
    close(tmp);
    if (empty < 0)
        return -1;
    fd_path(empty_path, empty);
    size_t dl = strlen(dir), el = strlen(empty_path);
    if (strchr(dir, ':') || strchr(dir, ',') || dl + el + 2 > sizeof lower) {
        errno = EINVAL; /* overlayfs option syntax cannot carry this path */
        goto out;
    }
    memcpy(lower, dir, dl);
    lower[dl] = ':';
    memcpy(lower + dl + 1, empty_path, el + 1);
    ov = fsopen("overlay", FSOPEN_CLOEXEC);
    if (ov < 0 || fsconfig(ov, FSCONFIG_SET_STRING, "lowerdir", lower, 0) < 0 ||
        fsconfig(ov, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        goto out;
    mnt = fsmount(ov, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
    if (mnt < 0)
        goto out;
    exe = openat(mnt, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
out:;
    int err = errno;
    if (mnt >= 0)
        close(mnt);
    if (ov >= 0)
        close(ov);
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

/* uid_map other than the whole range: root of a user namespace, where
 * ProtectedBinary decides (it may need no copy at all). */
static int in_user_namespace(void)
{
    char buf[128];
    int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 1;
    buf[n] = '\0';
    unsigned long inside, outside, count;
    char extra;
    return !(sscanf(buf, " %lu %lu %lu %c", &inside, &outside, &count, &extra) == 3 && inside == 0 && outside == 0 &&
             count == 4294967295UL);
}

/*
 * Before Swift starts: a create, run or exec by root re-executes from the
 * read-only overlay first thing, so that the first image pays only glibc's
 * start-up and not the Swift runtime's too (ProtectedBinary.ensure then
 * finds the binary read-only). Anything else (other callers, a memfd
 * fallback, errors) is left to ProtectedBinary.ensure, which has every
 * check and reports failures. glibc passes init_array functions argc,
 * argv and the environment; priority 101 runs this before the Swift
 * runtime's own initialisers.
 */
__attribute__((constructor(101))) static void protect_before_swift(int argc, char **argv, char **envp)
{
    if (getenv("_SKIFF_PROTECTED_EXE") || geteuid() != 0)
        return;
    /* The command: the first argument after the global options (those
     * that take a value: --root, --log, --log-format). */
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (strcmp(a, "--") == 0)
            return;
        const char *name = a + (a[1] == '-' ? 2 : 1);
        if (strchr(name, '='))
            continue;
        if (strcmp(name, "root") == 0 || strcmp(name, "log") == 0 || strcmp(name, "log-format") == 0)
            i++;
    }
    if (i >= argc || (strcmp(argv[i], "create") && strcmp(argv[i], "run") && strcmp(argv[i], "exec")))
        return;
    if (in_user_namespace() || skiff_exe_kind() != SKIFF_EXE_WRITABLE)
        return;
    /* The marker goes into a copy of the environment: setenv would move
     * environ to the heap, and the Swift runtime finds argv by walking the
     * stack back from environ, so a failed re-exec would start Swift with
     * no arguments at all. */
    size_t n = 0;
    while (envp[n])
        n++;
    char **env = malloc((n + 2) * sizeof *env);
    if (!env)
        return;
    static char marker[] = "_SKIFF_PROTECTED_EXE=1";
    env[0] = marker;
    memcpy(env + 1, envp, (n + 1) * sizeof *env);
    int used_memfd;
    skiff_exec_protected(argv, env, 0, &used_memfd);
    free(env); /* failed: ProtectedBinary.ensure tries and says why */
}
