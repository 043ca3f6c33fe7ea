/* The hooks the child runs in the container's namespaces: createContainer
 * before pivot_root, startContainer before execve (common/hookrun.c runs
 * each one). */
#include "internal.h"

#include <sys/wait.h>

/* Hooks the child runs in the container's namespaces; a failure goes to the
 * parent (or `start`) with the hook's output attached. */
void run_child_hooks(const struct skiff_hook *hooks, uint32_t n, int state_fd, uint32_t step)
{
    for (uint32_t i = 0; i < n; i++) {
        int out = -1, status = 0;
        int r = skiff_run_hook(&hooks[i], state_fd, &out, &status);
        if (r == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            close(out);
            continue;
        }
        /* index: the hook, and its wait status above it; error: why it did
         * not run, ETIMEDOUT, or 0 for a status. */
        errno = r < 0 ? -r : 0;
        fail_with_fd(step, (int32_t)(((uint32_t)(status & 0xffff) << 16) | (i & 0xffff)), out);
    }
}

/* Before pivot_root: the parent runs prestart and createRuntime (HOOKS_PLS,
 * HOOKS_ACK with the state fds), then createContainer runs here. */
int hook_state_fds[2] = { -1, -1 };

void create_hooks(const struct skiff_plan *p)
{
    if (!p->hooks_sync)
        return;
    send_msg(p->sync_fd, SKIFF_SYNC_HOOKS_PLS, 0, 0, -1);
    receive_fds(p->sync_fd, SKIFF_SYNC_HOOKS_ACK, hook_state_fds, 2);
    run_child_hooks(p->create_hooks, p->n_create_hooks, hook_state_fds[0], SKIFF_STEP_HOOK_CREATE_CONTAINER);
    close(hook_state_fds[0]);
    hook_state_fds[0] = -1;
    if (!p->n_start_hooks) {
        close(hook_state_fds[1]);
        hook_state_fds[1] = -1;
    }
}

void start_hooks(const struct skiff_plan *p)
{
    if (!p->n_start_hooks)
        return;
    run_child_hooks(p->start_hooks, p->n_start_hooks, hook_state_fds[1], SKIFF_STEP_HOOK_START_CONTAINER);
    close(hook_state_fds[1]);
    hook_state_fds[1] = -1;
}
