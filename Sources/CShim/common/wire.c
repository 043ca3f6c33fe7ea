/* Messages with fds (SCM_RIGHTS) on the sync socket, for both ends: the
 * parent sends bind mounts and hook states and receives a seccomp listener
 * or a hook's output; the child sends those. Async-signal-safe. */
#include "internal.h"

int skiff_send_fds(int sock, uint32_t type, const int *fds, uint32_t n)
{
    if (n > SKIFF_MAX_PARENT_TREES)
        return -EINVAL;
    skiff_msg m = { .type = type, .step = 0, .error = 0, .index = (int32_t)n };
    char control[CMSG_SPACE(sizeof(int) * SKIFF_MAX_PARENT_TREES)];
    memset(control, 0, sizeof control);
    struct iovec iov = { .iov_base = &m, .iov_len = sizeof m };
    struct msghdr h = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = CMSG_SPACE(sizeof(int) * n)
    };
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    ssize_t r;
    do {
        r = sendmsg(sock, &h, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

int skiff_send_with_fd(int sock, const void *bytes, size_t len, int fd)
{
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct iovec iov = { .iov_base = (void *)bytes, .iov_len = len };
    struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t r;
    do {
        r = sendmsg(sock, &h, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

/* A peer that closes its end with a message of ours unread (a child that
 * failed before reading what the parent sent) makes the kernel report
 * ECONNRESET on our end once, before what the peer sent earlier: that
 * is still queued (its failure record), and the next recvmsg returns it,
 * then end of file. */
static int reset_once(int *resets)
{
    return errno == ECONNRESET && (*resets)++ == 0;
}

int skiff_recv_with_fd(int sock, skiff_msg *m, int *fd)
{
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { .iov_base = m, .iov_len = sizeof *m };
    struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    *fd = -1;
    ssize_t r;
    int resets = 0;
    do {
        r = recvmsg(sock, &h, MSG_CMSG_CLOEXEC | MSG_TRUNC);
    } while (r < 0 && (errno == EINTR || reset_once(&resets)));
    if (r < 0)
        return -errno;
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(fd, CMSG_DATA(c), sizeof(int));
    if (r == 0)
        return 0;
    if (r != (ssize_t)sizeof *m || (h.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return -EPROTO;
    }
    return (int)r;
}

ssize_t skiff_recv_packet(int sock, void *buf, size_t len, int *fd)
{
    *fd = -1;
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    ssize_t r;
    int resets = 0;
    do {
        r = recvmsg(sock, &h, MSG_CMSG_CLOEXEC);
    } while (r < 0 && (errno == EINTR || reset_once(&resets)));
    if (r < 0)
        return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(fd, CMSG_DATA(c), sizeof(int));
    }
    if (h.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return -EMSGSIZE;
    }
    return r;
}

int skiff_recv_fd(int sock)
{
    char data[256];
    int fd;
    ssize_t r = skiff_recv_packet(sock, data, sizeof data, &fd);
    if (r < 0)
        return (int)r;
    if (fd < 0)
        return -EPROTO;
    return fd;
}
