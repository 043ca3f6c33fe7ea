/*
 * exec: a new process in a running container. The process skiff clones
 * joins every namespace of the container's first process at once
 * (setns on its pidfd: the user namespace first, then the others with the
 * capabilities it grants) and clones the process that runs the plan: a pid
 * namespace is only entered by children. That one is cloned with
 * CLONE_PARENT, so it is skiff's own child (skiff waits for it and holds
 * its pid without a reuse race); the joining process reports its pid and
 * exits.
 */
#include "internal.h"

#ifndef CLONE_PARENT
#define CLONE_PARENT 0x00008000
#endif

struct join_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

void exec_join(const struct skiff_plan *p)
{
    if (p->join_pidfd < 0)
        return;
    if (setns(p->join_pidfd, (int)p->join_flags) < 0)
        fail(SKIFF_STEP_EXEC_JOIN, 0);
    close(p->join_pidfd);
    /* Both processes share the sync socket: the new one waits on this pipe
     * until its pid is reported, so that EXEC_PID comes before anything of
     * its own (READY, a failure). */
    int order[2];
    if (pipe2(order, O_CLOEXEC) < 0)
        fail(SKIFF_STEP_EXEC_JOIN, 1);
    struct join_clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_PARENT;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        fail(SKIFF_STEP_EXEC_JOIN, 1);
    if (pid > 0) {
        /* Our part is done: the parent waits for the new process. */
        send_msg(p->sync_fd, SKIFF_SYNC_EXEC_PID, 0, 0, (int32_t)pid);
        char go = 1;
        ssize_t w = write(order[1], &go, 1);
        (void)w;
        _exit(0);
    }
    /* The new process, in every namespace of the container: the plan goes
     * on once its pid is reported (end of file: the joining process died
     * first, and nobody will wait for us). */
    close(order[1]);
    char go = 0;
    ssize_t r;
    do {
        r = read(order[0], &go, 1);
    } while (r < 0 && errno == EINTR);
    if (r != 1)
        _exit(1);
    close(order[0]);
}
