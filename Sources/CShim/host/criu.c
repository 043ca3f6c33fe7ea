/* CRIU's service (criu swrk), for checkpoint and restore: the process, with
 * the fds it is given at 3, 4, ... (its messages: common/wire.c). With
 * no_new_privs the process gets the flag before execve, and so does every
 * process it restores (CRIU before 3.19 does not restore the flag itself). */
#include "internal.h"

#include <signal.h>
#include <sys/prctl.h>

pid_t skiff_spawn_with_fds(const char *path, char *const argv[], char *const envp[], const int *fds, uint32_t n,
                           int output, int no_new_privs)
{
    if (n > 16)
        return -EINVAL;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0)
        return pid;
    /* Out of the way first (a source may sit where another goes), then in
     * place; everything else above them closes. */
    int high[16];
    for (uint32_t i = 0; i < n; i++) {
        high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 64);
        if (high[i] < 0)
            _exit(127);
    }
    for (uint32_t i = 0; i < n; i++) {
        if (dup2(high[i], 3 + (int)i) < 0)
            _exit(127);
    }
    close_range(3 + n, ~0U, 0);
    if (output >= 0 && (dup2(3, 1) < 0 || dup2(3, 2) < 0))
        _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        _exit(127);
    execve(path, argv, envp);
    _exit(127);
}
