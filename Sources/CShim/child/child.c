/*
 * The child: the container's first process (or exec's), from clone3 to
 * execve, stage by stage; the stages' steps are in the other files here.
 *
 * Only async-signal-safe calls: raw syscalls and the thin glibc wrappers
 * around them. No allocation, no stdio, no locale, no Swift. A failure is
 * reported as one fixed-size record (step, errno, index) and the process
 * exits; the parent turns the record into a message with plan context.
 */
#include "internal.h"

/* The first candidate that is an executable file (stat and mode bits, as
 * Go's LookPath: no access(2), which a profile may deny); fails with
 * ENOENT, or EACCES when one exists but cannot be executed. */
static uint32_t find_program(const struct skiff_plan *p)
{
    int saw_eacces = 0;
    for (uint32_t i = 0; i < p->n_exec_paths; i++) {
        struct stat st;
        if (stat(p->exec_paths[i], &st) < 0) {
            if (errno == EACCES)
                saw_eacces = 1;
            continue;
        }
        if (S_ISREG(st.st_mode) && (st.st_mode & 0111))
            return i;
        saw_eacces = 1;
    }
    errno = saw_eacces ? EACCES : ENOENT;
    fail(SKIFF_STEP_EXEC, p->n_exec_paths == 1 ? 0 : -1);
}

/* The process itself: not dumpable, named, on its initial CPUs, holding only
 * the fds it keeps, with default signal dispositions and an empty mask. */
static void enter_process(const struct skiff_plan *p)
{
    report_fd = p->sync_fd;
    /* Non-dumpable before anything else (CVE-2016-9962, CVE-2019-5736): until
     * execve this process holds skiff's memory, the caller's environment and
     * skiff's binary as /proc/<pid>/exe, and a process of a container whose
     * pid namespace we join could otherwise ptrace us or open those files.
     * Only processes with CAP_SYS_PTRACE over us can now; execve makes the
     * container's program dumpable again as usual. An unprivileged parent
     * must open our /proc files to write the maps of our new user namespace:
     * then we stay dumpable until they are written. That is safe: only the
     * caller's own processes on the host have power over a user namespace
     * it owns (a root caller writes as root, with no such window). */
    if (!p->unprivileged_parent && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        fail(SKIFF_STEP_DUMPABLE, -1);
    if (p->stage_name)
        prctl(PR_SET_NAME, p->stage_name, 0, 0, 0);
    /* execCPUAffinity.initial: where the setup runs. */
    set_cpus(p, p->cpus_initial, 0);

    /* Descriptors first: the child keeps stdio, the preserved fds and the
     * ones the plan names. Whatever the caller leaked into skiff never
     * reaches the container (CVE-2024-21626), and a copy of the parent's
     * state-directory fd would hold its lock until execve. */
    {
        /* What the start-up holds open (host/startup: the fault-around
         * userfaultfd) first, wherever it is: it must not be handed on
         * with the preserved fds. */
        if (p->startup_fd >= 0)
            close(p->startup_fd);
        unsigned int lo = 3 + p->preserve_fds;
        for (uint32_t i = 0; i < p->n_keep_fds; i++) {
            unsigned int k = (unsigned int)p->keep_fds[i];
            if (k < lo)
                continue;
            if (k > lo && close_range(lo, k - 1, 0) < 0)
                fail(SKIFF_STEP_FDS, -1);
            lo = k + 1;
        }
        if (close_range(lo, ~0U, 0) < 0)
            fail(SKIFF_STEP_FDS, -1);
    }
    for (uint32_t i = 0; i < p->preserve_fds; i++) {
        int fd = 3 + (int)i;
        int fl = fcntl(fd, F_GETFD);
        if (fl < 0 || fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
            fail(SKIFF_STEP_FDS, fd);
    }

    /* The parent blocks the signals it forwards; the container starts with
     * default dispositions and an empty mask. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) {
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &dfl, NULL); /* glibc refuses its internal ones: fine */
    }
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        fail(SKIFF_STEP_SIGNALS, -1);
}

/* v1: writing "0" to a `tasks` file moves the calling thread only (we
 * have no other), and the kernel then skips the write side of
 * cgroup_threadgroup_rwsem, which a pid written to cgroup.procs takes:
 * that costs an RCU grace period whenever nothing moved recently (5-20 ms
 * on this kernel, 0.2 ms for all the hierarchies this way). */
static void write_self(const int32_t *tasks, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (write(tasks[i], "0", 1) != 1)
            fail(SKIFF_STEP_CGROUP_JOIN, (int32_t)i);
        close(tasks[i]);
    }
}

/* The container's cgroups before anything else runs (CLONE_INTO_CGROUP
 * is v2's), then a cgroup namespace rooted there when it could not come
 * with the clone; unless the cgroup comes later (await_cgroup). */
static void join_cgroups(const struct skiff_plan *p)
{
    if (p->cgroup_late)
        return;
    write_self(p->cgroup_tasks, p->n_cgroup_tasks);
    if (p->n_cgroup_tasks && p->cgroupns_late && unshare(CLONE_NEWCGROUP) < 0)
        fail(SKIFF_STEP_CGROUPNS, -1);
}

/*
 * A cgroup made after the clone: a systemd scope (systemd needs our pid)
 * or v1 hierarchies the parent makes while we make our first mounts.
 * Nothing that needs the cgroup comes before this: a cgroup namespace,
 * a mount of or below /sys/fs/cgroup (the planner puts the wait before
 * the first), device nodes (v1's device rules check mknod), hooks, the
 * container's program. The `tasks` files come with the message.
 */
void await_cgroup(const struct skiff_plan *p)
{
    static int done;
    if (!p->cgroup_late || done)
        return;
    done = 1;
    int tasks[SKIFF_MAX_PARENT_TREES];
    if (p->n_cgroup_tasks > SKIFF_MAX_PARENT_TREES) {
        errno = E2BIG;
        fail(SKIFF_STEP_CGROUP_JOIN, -1);
    }
    if (p->n_cgroup_tasks)
        receive_fds(p->sync_fd, SKIFF_SYNC_CGROUP_ACK, tasks, p->n_cgroup_tasks);
    else
        expect_msg(p->sync_fd, SKIFF_SYNC_CGROUP_ACK);
    write_self(tasks, p->n_cgroup_tasks);
    if (p->cgroupns_late && unshare(CLONE_NEWCGROUP) < 0)
        fail(SKIFF_STEP_CGROUPNS, -1);
}

/* User maps, the binds the parent made, namespaces joined by path, a time
 * namespace with its offsets. */
static void enter_namespaces(const struct skiff_plan *p)
{
    /* Bind sources while we still have the caller's ids: once we are root
     * of a new user namespace, a source under a directory only the caller
     * may enter is out of reach (runc opens them before the namespace). */
    if (p->early_binds)
        open_bind_sources(p);

    /* A new user namespace comes first: until its maps are written we own
     * no ids in it, and every later step needs the capabilities it grants. */
    if (p->wait_usermap) {
        expect_msg(p->sync_fd, SKIFF_SYNC_USERMAP_ACK);
        if (p->unprivileged_parent && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
            fail(SKIFF_STEP_DUMPABLE, -1);
        if (p->userns_root && (syscall(SYS_setresgid, 0, 0, 0) < 0 || syscall(SYS_setresuid, 0, 0, 0) < 0))
            fail(SKIFF_STEP_USERNS_ROOT, -1);
    }
    /* Idmapped binds the parent made (after our maps: it may idmap with them). */
    if (p->n_parent_trees)
        receive_trees(p->sync_fd, p->n_parent_trees);
    /* Namespaces given by path, the user namespace first so that the others
     * are joined with the capabilities it grants. */
    for (uint32_t i = 0; i < p->n_joins; i++) {
        if (setns(p->joins[i].fd, p->joins[i].nstype) < 0)
            fail(SKIFF_STEP_SETNS, (int32_t)i);
    }
    /* A time namespace takes its offsets before any process is in it: make
     * it for our children, have the parent write them (our own
     * timens_offsets is root's while we are not dumpable), then enter it. */
    if (p->new_timens) {
        if (unshare(CLONE_NEWTIME) < 0)
            fail(SKIFF_STEP_TIMENS, -1);
        if (p->timens_offsets) {
            if (p->unprivileged_parent && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
                fail(SKIFF_STEP_DUMPABLE, -1);
            send_msg(p->sync_fd, SKIFF_SYNC_TIMEOFFSETS_PLS, 0, 0, -1);
            expect_msg(p->sync_fd, SKIFF_SYNC_TIMEOFFSETS_ACK);
            if (p->unprivileged_parent && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                fail(SKIFF_STEP_DUMPABLE, -1);
        }
        int fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWTIME) < 0)
            fail(SKIFF_STEP_TIMENS_ENTER, -1);
        close(fd);
    }
}

/* What the process has in the container besides its root: keyring,
 * terminal, session, names, loopback, limits, personality, scheduling,
 * LSM labels for the execve. */
static void set_environment(const struct skiff_plan *p)
{
    /* In the container's user namespace (a keyring belongs to a user of
     * one), before the identity change: the keyring is its root's, and
     * the process keeps possessing it once it is the container's user. */
    join_session_keyring(p);
    setup_terminal(p);
    /* A session of its own (and so a process group), as runc gives every
     * container process; with a terminal, setup_terminal made it already. */
    if (getsid(0) != getpid() && setsid() < 0)
        fail(SKIFF_STEP_SETSID, -1);

    if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
        fail(SKIFF_STEP_HOSTNAME, -1);
    if (p->domainname && setdomainname(p->domainname, strlen(p->domainname)) < 0)
        fail(SKIFF_STEP_DOMAINNAME, -1);
    if (p->loopback_up)
        loopback_up();
    /* rlimits while we still hold CAP_SYS_RESOURCE (raising a hard limit). */
    for (uint32_t i = 0; i < p->n_rlimits; i++) {
        struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
        if (setrlimit(p->rlimits[i].resource, &rl) < 0)
            fail(SKIFF_STEP_RLIMIT, (int32_t)i);
    }
    if (p->personality >= 0 && syscall(SYS_personality, (unsigned long)p->personality) < 0)
        fail(SKIFF_STEP_PERSONALITY, -1);
    set_scheduling(p);
    /* Exec labels before the identity change, as runc: they take effect at
     * execve, and writing them may need privileges the change drops. */
    set_exec_labels(p);
}

/* Privileges dropped: a filter that must come first, the cwd, the
 * identity, no_new_privs. Returns the seccomp listener, or -1. */
static int drop_privileges(const struct skiff_plan *p)
{
    /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the
     * identity change drops: load it now (as runc does); the steps after
     * this must then be allowed by the profile. */
    int listener = -1;
    if (p->seccomp_early)
        listener = load_seccomp(p);
    /* chdir before the identity change, as runc orders it (a cwd only
     * another uid may enter still works for root without the capability
     * to enter it afterwards); where root may not enter it (root-squashing
     * NFS, a volume of the user's), again as the container's user. */
    int cwd_done = chdir(p->cwd) == 0;
    if (!cwd_done && errno != EACCES && errno != EPERM)
        fail(SKIFF_STEP_CHDIR, -1);
    set_identity(p);
    if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        fail(SKIFF_STEP_NO_NEW_PRIVS, -1);
    if (!cwd_done && chdir(p->cwd) < 0)
        fail(SKIFF_STEP_CHDIR, -1);
    {
        /* A cwd outside the root (a leaked directory fd, CVE-2024-21626)
         * shows as ENOENT or "(unreachable)" from getcwd. */
        char buf[PATH_MAX];
        long r = syscall(SYS_getcwd, buf, sizeof buf);
        if (r < 0 || buf[0] != '/') {
            if (r >= 0)
                errno = ENOENT;
            fail(SKIFF_STEP_CWD_VERIFY, -1);
        }
    }
    umask(p->umask);
    return listener;
}

/* READY (with the seccomp listener), then the word to exec: START from the
 * parent (run, exec), or COMMIT and then START on the start socket (create). */
static void await_start(const struct skiff_plan *p, int listener)
{
    /* Setup is done; tell the parent and wait for the word to exec. */
    /* A filter with a listener is loaded now, before READY: the parent
     * hands the listener to the agent before the container runs anything
     * (and before `create` returns). READY carries it, so no syscall but
     * that sendmsg runs under the filter before the agent has it. */
    if (p->seccomp_listener && !p->seccomp_early)
        listener = load_seccomp(p);
    if (listener >= 0) {
        skiff_msg ready = { .type = SKIFF_SYNC_READY, .index = -1 };
        if (skiff_send_with_fd(p->sync_fd, &ready, sizeof ready, listener) < 0)
            fail(SKIFF_STEP_SECCOMP, -1);
        close(listener);
    } else {
        send_msg(p->sync_fd, SKIFF_SYNC_READY, 0, 0, -1);
    }
    uint32_t go = recv_msg(p->sync_fd);
    if (go == SKIFF_SYNC_COMMIT) {
        /* `create` is done and gone. Wait for `start` on the listening
         * socket; a connection that does not say START in exactly one
         * well-formed message is dropped (CVE-2021-43784). */
        close(p->sync_fd);
        report_fd = -1;
        for (;;) {
            int c = accept4(p->start_fd, NULL, NULL, SOCK_CLOEXEC);
            if (c < 0) {
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                _exit(1);
            }
            skiff_msg m;
            ssize_t r;
            do {
                r = recv(c, &m, sizeof m, MSG_TRUNC);
            } while (r < 0 && errno == EINTR);
            if (r == (ssize_t)sizeof m && m.type == SKIFF_SYNC_START) {
                report_fd = c;
                break;
            }
            close(c);
        }
        close(p->start_fd);
    } else if (go != SKIFF_SYNC_START) {
        errno = EPROTO;
        fail(SKIFF_STEP_PROTOCOL, (int32_t)((SKIFF_SYNC_START << 16) | (go & 0xffff)));
    }
}

/* The container's program: its filter, startContainer hooks, execve of the
 * first candidate that can run. */
__attribute__((noreturn)) static void exec_program(const struct skiff_plan *p, uint32_t first)
{
    /* execCPUAffinity.final: where the container's program (and its
     * startContainer hooks) run. */
    set_cpus(p, p->cpus_final, 1);

    /* The filter before the startContainer hooks: they are the image's
     * programs, run in the container, and what they leave running must be
     * as confined as the container (runc loads it first too). Otherwise as
     * close to execve as possible: every syscall after this one must be
     * allowed by the profile. */
    if (!p->seccomp_early && !p->seccomp_listener)
        load_seccomp(p);

    /* startContainer: part of `start`, in the container, before its program. */
    start_hooks(p);

    int saw_eacces = 0;
    for (uint32_t i = first; i < p->n_exec_paths; i++) {
        execve(p->exec_paths[i], (char *const *)p->argv, (char *const *)p->envp);
        if (errno == EACCES)
            saw_eacces = 1;
        else if (errno != ENOENT && errno != ENOTDIR)
            fail(SKIFF_STEP_EXEC, (int32_t)i);
    }
    errno = saw_eacces ? EACCES : ENOENT;
    fail(SKIFF_STEP_EXEC, -1);
}

/* From clone3 to execve, stage by stage. A failure at any step is reported
 * (step, errno, index) and the process exits. */
__attribute__((noreturn)) static void child(const struct skiff_plan *p)
{
    enter_process(p);
    join_cgroups(p);
    enter_namespaces(p);
    /* Modes of created directories and nodes are exact; the process umask is
     * set just before execve. */
    umask(0);
    if (p->exec_join)
        exec_join(p); /* returns in the new process, in the container */
    else
        setup_rootfs(p);
    set_environment(p);
    int listener = drop_privileges(p);
    /* The program must exist now, as runc's create finds it (LookPath):
     * engines read "no such file" in create's error as exit status 127. */
    uint32_t first = find_program(p);
    await_start(p, listener);
    exec_program(p, first);
}

pid_t skiff_spawn(const struct skiff_plan *p, int *pidfd)
{
    if (p->version != SKIFF_PLAN_VERSION)
        return -EINVAL;
    int fd = -1;
    struct skiff_clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = p->clone_flags | CLONE_PIDFD;
    if (p->cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)p->cgroup_fd;
    }
    args.pidfd = (uint64_t)(uintptr_t)&fd;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        return -errno;
    if (pid == 0)
        child(p);
    *pidfd = fd;
    return (pid_t)pid;
}
