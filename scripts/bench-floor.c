/*
 * The floor for scripts/bench: the least any runtime has to do to run a
 * command in a container: the namespaces `runc spec` asks for (root: pid,
 * network, ipc, uts, mount; rootless: pid, ipc, uts, mount, user), a
 * pivot_root into the same rootfs, /proc mounted, exec. No config, no
 * state, no cgroup, no other mount.
 *
 *   bench-floor [--rootless] ROOTFS CMD [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "bench-floor: %s: %s\n", what, strerror(errno));
    exit(125);
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        die(path);
    close(fd);
}

int main(int argc, char **argv)
{
    int rootless = argc > 1 && strcmp(argv[1], "--rootless") == 0;
    if (argc < 3 + rootless) {
        fprintf(stderr, "usage: bench-floor [--rootless] ROOTFS CMD [ARG...]\n");
        return 2;
    }
    const char *rootfs = argv[1 + rootless];
    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (rootless) {
        char map[64];
        uid_t uid = geteuid();
        gid_t gid = getegid();
        if (unshare(CLONE_NEWUSER) < 0)
            die("unshare user");
        snprintf(map, sizeof map, "0 %u 1\n", uid);
        write_file("/proc/self/uid_map", map);
        write_file("/proc/self/setgroups", "deny");
        snprintf(map, sizeof map, "0 %u 1\n", gid);
        write_file("/proc/self/gid_map", map);
    } else {
        flags |= CLONE_NEWNET;
    }
    if (unshare(flags) < 0)
        die("unshare");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            die("make / private");
        if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
            die("bind rootfs");
        if (chdir(rootfs) < 0)
            die("chdir rootfs");
        /* Before the old root goes: unprivileged, proc may be mounted only
         * where another proc is fully visible in the mount namespace. */
        if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            die("mount /proc");
        if (syscall(SYS_pivot_root, ".", ".") < 0)
            die("pivot_root");
        if (umount2(".", MNT_DETACH) < 0)
            die("umount old root");
        if (chdir("/") < 0)
            die("chdir /");
        execv(argv[2 + rootless], argv + 2 + rootless);
        die("exec");
    }
    int status;
    if (waitpid(pid, &status, 0) < 0)
        die("wait");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
