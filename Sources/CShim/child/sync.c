/* The child's end of the sync protocol: one fixed-size record per message,
 * a failure reported as (step, errno, index), fds received with
 * SCM_RIGHTS (common/wire.c sends and receives them for both sides). */
#include "internal.h"

/* Where a failure is reported: the sync socket, then the `start` connection. */
int report_fd = -1;

void send_msg(int fd, uint32_t type, uint32_t step, int32_t err, int32_t index)
{
    skiff_msg m = { .type = type, .step = step, .error = err, .index = index };
    ssize_t r;
    do {
        r = send(fd, &m, sizeof m, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
}

__attribute__((noreturn)) void fail(uint32_t step, int32_t index)
{
    fail_with_fd(step, index, -1);
}

/* The failure record with a file that explains it (a hook's output). */
__attribute__((noreturn)) void fail_with_fd(uint32_t step, int32_t index, int fd)
{
    int err = errno;
    if (report_fd >= 0) {
        skiff_msg m = { .type = SKIFF_SYNC_ERROR, .step = step, .error = err, .index = index };
        if (fd < 0 || skiff_send_with_fd(report_fd, &m, sizeof m, fd) < 0)
            send_msg(report_fd, SKIFF_SYNC_ERROR, step, err, index);
    }
    _exit(step == SKIFF_STEP_EXEC ? (err == ENOENT ? 127 : 126) : 1);
}

/* Read one message. End of file means the parent is gone: nobody is left to
 * report to, so leave quietly. */
uint32_t recv_msg(int fd)
{
    skiff_msg m;
    ssize_t r;
    /* MSG_TRUNC: the real length of the packet, so that a longer one is
     * refused rather than read as its first bytes (CVE-2021-43784). */
    do {
        r = recv(fd, &m, sizeof m, MSG_TRUNC);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        _exit(1);
    if (r != (ssize_t)sizeof m) {
        if (r >= 0)
            errno = EPROTO;
        fail(SKIFF_STEP_PROTOCOL, -1);
    }
    return m.type;
}

/* The trees the parent made, in the order of the FROM_PARENT mounts. */
int parent_trees[SKIFF_MAX_PARENT_TREES];
uint32_t parent_trees_used;

void receive_trees(int fd, uint32_t n)
{
    receive_fds(fd, SKIFF_SYNC_MOUNTFDS, parent_trees, n);
}

/* One message of `type` with exactly n fds. */
void receive_fds(int fd, uint32_t type, int *fds, uint32_t n)
{
    skiff_msg m;
    char control[CMSG_SPACE(sizeof(int) * SKIFF_MAX_PARENT_TREES)];
    struct iovec iov = { .iov_base = &m, .iov_len = sizeof m };
    struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    ssize_t r;
    do {
        r = recvmsg(fd, &h, MSG_CMSG_CLOEXEC);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        _exit(1);
    if (r != (ssize_t)sizeof m || (h.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        if (r >= 0)
            errno = EPROTO;
        fail(SKIFF_STEP_PROTOCOL, -1);
    }
    if (m.type != type) {
        errno = EPROTO;
        fail(SKIFF_STEP_PROTOCOL, (int32_t)((type << 16) | (m.type & 0xffff)));
    }
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int) * n)) {
        errno = EPROTO;
        fail(SKIFF_STEP_PROTOCOL, -1);
    }
    memcpy(fds, CMSG_DATA(c), sizeof(int) * n);
}

void expect_msg(int fd, uint32_t want)
{
    uint32_t got = recv_msg(fd);
    if (got != want) {
        errno = EPROTO;
        fail(SKIFF_STEP_PROTOCOL, (int32_t)((want << 16) | (got & 0xffff)));
    }
}
