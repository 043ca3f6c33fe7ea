/*
 * A hook: one program run with the container's state on stdin, its output
 * kept, killed at its timeout. The same code serves the parent (prestart,
 * createRuntime, poststart, poststop, in the runtime namespace) and the
 * child (child/hooks.c: createContainer before pivot_root, startContainer
 * before execve, in the container's namespaces): async-signal-safe calls
 * only.
 */
#include "internal.h"

#include <poll.h>
#include <sys/wait.h>

/* In the forked process: stdio, no other fd, default signals, then execve.
 * An execve failure goes back as its errno on the close-on-exec pipe. */
__attribute__((noreturn)) static void hook_exec(const struct skiff_hook *h, int state_fd, int out_fd, int err_pipe)
{
    if (dup2(state_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
        goto fail;
    /* The error pipe moves above stdio and everything else goes: a hook
     * sees neither skiff's fds nor the container's preserved ones. */
    if (err_pipe < 3) {
        int moved = fcntl(err_pipe, F_DUPFD_CLOEXEC, 3);
        if (moved < 0)
            goto fail;
        err_pipe = moved;
    }
    if ((err_pipe > 3 && close_range(3, (unsigned int)err_pipe - 1, 0) < 0) ||
        close_range((unsigned int)err_pipe + 1, ~0U, 0) < 0)
        goto fail;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* A group of its own: at its timeout the hook goes with its children. */
    setpgid(0, 0);
    execve(h->path, (char *const *)h->argv, (char *const *)h->envp);
fail:;
    int e = errno;
    ssize_t w = write(err_pipe, &e, sizeof e);
    (void)w;
    _exit(127);
}

int skiff_run_hook(const struct skiff_hook *h, int state_fd, int *out_fd, int *status)
{
    *out_fd = -1;
    *status = 0;
    int out = skiff_memfd("skiff-hook-output");
    if (out < 0)
        return -errno;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        int e = errno;
        close(out);
        return -e;
    }
    if (state_fd >= 0)
        lseek(state_fd, 0, SEEK_SET);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(out);
        close(p[0]);
        close(p[1]);
        return -e;
    }
    if (pid == 0) {
        close(p[0]);
        int in = state_fd >= 0 ? state_fd : open("/dev/null", O_RDONLY | O_CLOEXEC);
        hook_exec(h, in, out, p[1]);
    }
    close(p[1]);
    /* Our own child, not reaped yet: its pid cannot be reused under us. */
    int pidfd = skiff_pidfd_open(pid);
    int result = 0;
    int e = 0;
    ssize_t n;
    do {
        n = read(p[0], &e, sizeof e);
    } while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n == (ssize_t)sizeof e) {
        /* execve failed: the process exits at once. */
        while (waitpid(pid, status, 0) < 0 && errno == EINTR)
            ;
        if (pidfd >= 0)
            close(pidfd);
        close(out);
        return -e;
    }
    if (pidfd >= 0 && h->timeout_ms > 0) {
        struct pollfd pf = { .fd = pidfd, .events = POLLIN };
        int left = h->timeout_ms;
        for (;;) {
            int r = poll(&pf, 1, left);
            if (r > 0)
                break;
            if (r == 0) {
                /* Not reaped yet, so its pid (and group id) is still its. */
                kill(-pid, SIGKILL);
                skiff_pidfd_send_signal(pidfd, SIGKILL);
                result = -ETIMEDOUT;
                break;
            }
            if (errno != EINTR)
                break;
        }
    }
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR) {
            result = -errno;
            break;
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    *out_fd = out;
    return result;
}
