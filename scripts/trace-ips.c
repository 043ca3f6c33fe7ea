/*
 * For scripts/order-symbols: runs a command single-stepped under ptrace and
 * prints, in order of first execution, every distinct instruction address it
 * executes inside [LO, HI) (the executable's text), one hex address a line.
 * Only the traced process itself is stepped; processes it creates run free.
 * With -u, the command runs as that user (no supplementary groups).
 *
 *   trace-ips [-u UID:GID] LO HI CMD [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long uid = -1, gid = -1;
    if (argc > 2 && strcmp(argv[1], "-u") == 0) {
        if (sscanf(argv[2], "%ld:%ld", &uid, &gid) != 2) {
            fprintf(stderr, "trace-ips: -u takes UID:GID\n");
            return 2;
        }
        argc -= 2;
        argv += 2;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: trace-ips [-u UID:GID] LO HI CMD [ARG...]\n");
        return 2;
    }
    uintptr_t lo = strtoull(argv[1], NULL, 0), hi = strtoull(argv[2], NULL, 0);
    if (hi <= lo) {
        fprintf(stderr, "trace-ips: empty range\n");
        return 2;
    }
    uint8_t *seen = calloc(hi - lo, 1);
    if (!seen) {
        perror("trace-ips: calloc");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("trace-ips: fork");
        return 1;
    }
    if (pid == 0) {
        if (uid >= 0 && (setgroups(0, NULL) < 0 || setgid((gid_t)gid) < 0 || setuid((uid_t)uid) < 0))
            _exit(126);
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
            _exit(126);
        execv(argv[3], argv + 3);
        _exit(127);
    }
    int status, sig = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status)) {
        fprintf(stderr, "trace-ips: %s did not start\n", argv[3]);
        return 1;
    }
    ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)PTRACE_O_EXITKILL);
    for (;;) {
        struct user_regs_struct regs;
        if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) == 0) {
            uintptr_t ip = regs.rip;
            if (ip >= lo && ip < hi && !seen[ip - lo]) {
                seen[ip - lo] = 1;
                printf("%lx\n", (unsigned long)ip);
            }
        }
        if (ptrace(PTRACE_SINGLESTEP, pid, NULL, (void *)(long)sig) < 0) {
            fprintf(stderr, "trace-ips: singlestep: %s\n", strerror(errno));
            return 1;
        }
        if (waitpid(pid, &status, 0) < 0) {
            fprintf(stderr, "trace-ips: wait: %s\n", strerror(errno));
            return 1;
        }
        if (WIFEXITED(status))
            return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
            return 128 + WTERMSIG(status);
        sig = WSTOPSIG(status) == SIGTRAP ? 0 : WSTOPSIG(status);
    }
}
