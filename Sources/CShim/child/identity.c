/* Identity and privileges: loopback, capabilities, ids, seccomp. */
#include "internal.h"

void loopback_up(void)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        fail(SKIFF_STEP_LOOPBACK, -1);
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        fail(SKIFF_STEP_LOOPBACK, 0);
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        fail(SKIFF_STEP_LOOPBACK, 1);
    close(s);
}

/*
 * stdio that is a pipe or a socket the runtime was handed (pipefs or
 * sockfs: anonymous, never a file of the host's) becomes the container
 * user's, as runc does, so that a non-root process can reopen
 * /dev/stdout. Only the uid; EINVAL, EPERM and EROFS (an id not mapped
 * here) leave it as it is. Terminals and files are never touched.
 */
static void chown_stdio(uint32_t uid)
{
    for (int fd = 0; fd < 3; fd++) {
        struct stat st;
        struct statfs sf;
        if (fstat(fd, &st) < 0 || st.st_uid == uid || (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)))
            continue;
        if (fstatfs(fd, &sf) < 0 || (sf.f_type != PIPEFS_MAGIC && sf.f_type != SOCKFS_MAGIC))
            continue;
        if (fchown(fd, uid, (gid_t)-1) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
            fail(SKIFF_STEP_STDIO_OWNER, fd);
    }
}

void set_identity(const struct skiff_plan *p)
{
    /* While we may still chown. */
    chown_stdio(p->uid);
    /* The bounding set first: dropping needs CAP_SETPCAP, which capset
     * below may take away. */
    for (uint32_t c = 0; c <= p->cap_last && c < 64; c++) {
        if (!(p->cap_bounding & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
            fail(SKIFF_STEP_CAP_BOUNDING, (int32_t)c);
    }
    /* Keep the permitted set across the uid change; capset sets the exact
     * sets afterwards. Raw syscalls: glibc's setxid machinery broadcasts to
     * threads it remembers from the parent. */
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        fail(SKIFF_STEP_KEEPCAPS, -1);
    if (p->set_groups && syscall(SYS_setgroups, (size_t)p->n_groups, p->groups) < 0)
        fail(SKIFF_STEP_SETGROUPS, -1);
    if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0)
        fail(SKIFF_STEP_SETGID, -1);
    if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0)
        fail(SKIFF_STEP_SETUID, -1);
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        fail(SKIFF_STEP_KEEPCAPS, -1);

    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2] = {
        { .effective = (uint32_t)p->cap_effective,
          .permitted = (uint32_t)p->cap_permitted,
          .inheritable = (uint32_t)p->cap_inheritable },
        { .effective = (uint32_t)(p->cap_effective >> 32),
          .permitted = (uint32_t)(p->cap_permitted >> 32),
          .inheritable = (uint32_t)(p->cap_inheritable >> 32) },
    };
    if (syscall(SYS_capset, &hdr, data) < 0)
        fail(SKIFF_STEP_CAPSET, -1);
    for (uint32_t c = 0; c <= p->cap_last && c < 64; c++) {
        if ((p->cap_ambient & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
            fail(SKIFF_STEP_CAP_AMBIENT, (int32_t)c);
    }
}

int load_seccomp(const struct skiff_plan *p)
{
    if (!p->seccomp_filter)
        return -1;
    struct sock_fprog prog = {
        .len = (unsigned short)p->seccomp_len,
        .filter = (struct sock_filter *)p->seccomp_filter,
    };
    unsigned long flags = p->seccomp_flags | (p->seccomp_listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (r < 0)
        fail(SKIFF_STEP_SECCOMP, -1);
    /* With NEW_LISTENER the result is the listener's fd (close-on-exec). */
    return p->seccomp_listener ? (int)r : -1;
}

/* Scheduling, I/O priority and memory policy: while we still hold
 * CAP_SYS_NICE (a real-time policy, a higher priority) and before the
 * identity change. */
void set_scheduling(const struct skiff_plan *p)
{
    if (p->sched_attr && syscall(SYS_sched_setattr, 0, p->sched_attr, 0) < 0)
        fail(SKIFF_STEP_SCHEDULER, -1);
    if (p->ioprio >= 0 && syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, p->ioprio) < 0)
        fail(SKIFF_STEP_IOPRIO, -1);
    if (p->mempolicy_mode >= 0 && syscall(SYS_set_mempolicy, p->mempolicy_mode, p->mempolicy_nodes,
                                          p->mempolicy_nodes ? (unsigned long)p->mempolicy_maxnode + 1 : 0UL) < 0)
        fail(SKIFF_STEP_MEMPOLICY, -1);
}

void set_cpus(const struct skiff_plan *p, const uint64_t *mask, int32_t which)
{
    if (mask && syscall(SYS_sched_setaffinity, 0, (size_t)p->cpus_words * 8, mask) < 0)
        fail(SKIFF_STEP_CPU_AFFINITY, which);
}

/*
 * A session keyring of the container's own (runc's and crun's default):
 * kernel keyrings are not namespaced, so a process that kept the caller's
 * session keyring would possess whatever keys the calling shell, shim or
 * service holds. KEYCTL_JOIN_SESSION_KEYRING makes it (exec'd processes
 * join the same by name); its user gets search permission, as runc gives
 * it, so that they find it. A kernel without keys (ENOSYS) has nothing to
 * leak.
 */
void join_session_keyring(const struct skiff_plan *p)
{
    if (!p->session_keyring)
        return;
    long id = syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, p->session_keyring, 0, 0, 0);
    if (id < 0) {
        if (errno == ENOSYS)
            return;
        fail(SKIFF_STEP_KEYRING, -1);
    }
    /* "type;uid;gid;perm;description": perm is the fourth field, in hex. */
    char desc[512];
    long n = syscall(SYS_keyctl, 6 /* KEYCTL_DESCRIBE */, id, desc, sizeof desc - 1, 0);
    if (n < 0)
        fail(SKIFF_STEP_KEYRING, -1);
    desc[n < (long)sizeof desc ? n : (long)sizeof desc - 1] = '\0';
    const char *f = desc;
    for (int k = 0; k < 3 && f; k++) {
        f = strchr(f, ';');
        if (f)
            f++;
    }
    uint32_t perm = 0;
    int digits = 0;
    for (; f && *f && *f != ';'; f++, digits++) {
        int v = *f >= '0' && *f <= '9' ? *f - '0' : *f >= 'a' && *f <= 'f' ? *f - 'a' + 10 : -1;
        if (v < 0 || digits >= 8) {
            errno = EPROTO;
            fail(SKIFF_STEP_KEYRING, -1);
        }
        perm = perm << 4 | (uint32_t)v;
    }
    if (!digits) {
        errno = EPROTO;
        fail(SKIFF_STEP_KEYRING, -1);
    }
    if (syscall(SYS_keyctl, 5 /* KEYCTL_SETPERM */, id, perm | 0x00080000 /* KEY_USR_SEARCH */, 0, 0) < 0)
        fail(SKIFF_STEP_KEYRING, -1);
}
