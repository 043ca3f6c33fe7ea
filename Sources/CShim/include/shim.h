/*
 * skiff's C shim: the only code that runs between clone and execve.
 *
 * Swift decides everything before the clone and fills a `skiff_plan`; the
 * child executes it step by step using async-signal-safe calls only (no
 * allocation, no stdio, no locks: the child is a copy of one thread and any
 * lock held at the instant of the clone stays held forever).
 *
 * This header is the single definition of the wire between the parent and
 * the child (the sync protocol and the failure record). Swift imports it.
 */
#ifndef SKIFF_SHIM_H
#define SKIFF_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/openat2.h> /* RESOLVE_*, for Swift */
#include <linux/personality.h> /* PER_*, for Swift */
#include <linux/sched.h> /* CLONE_NEW*: Swift's Glibc hides them (_GNU_SOURCE) */

#define SKIFF_PLAN_VERSION 5

/* ------------------------------------------------------------------------
 * Sync protocol. Every message is one fixed-size `skiff_msg` on a
 * SOCK_SEQPACKET socket pair (the child's end is close-on-exec, so end of
 * file after START means execve succeeded). Messages are named in pairs.
 * ---------------------------------------------------------------------- */
enum skiff_sync {
    SKIFF_SYNC_NONE = 0,
    /* parent -> child: uid/gid maps of the new user namespace are written */
    SKIFF_SYNC_USERMAP_ACK = 1,
    /* child -> parent: every step before execve is done; waiting. With a
     * seccomp listener, its fd comes with it (SCM_RIGHTS) */
    SKIFF_SYNC_READY = 2,
    /* parent -> child (create): state is recorded; wait for `start` on the
     * start socket */
    SKIFF_SYNC_COMMIT = 3,
    /* parent or `start` -> child: execve now */
    SKIFF_SYNC_START = 4,
    /* child -> parent or `start`: a step failed; see step/error/index */
    SKIFF_SYNC_ERROR = 5,
    /* parent -> child: detached mount trees the parent made (idmapped
     * binds), one per SKIFF_MF_FROM_PARENT mount in order, as SCM_RIGHTS */
    SKIFF_SYNC_MOUNTFDS = 6,
    /* child -> parent: the time namespace is made; write its offsets to
     * /proc/<pid>/timens_offsets (our own file is root's: we are not
     * dumpable) */
    SKIFF_SYNC_TIMEOFFSETS_PLS = 7,
    /* parent -> child: offsets written; enter the time namespace */
    SKIFF_SYNC_TIMEOFFSETS_ACK = 8,
    /* parent -> child: the process is in its systemd scope (placed after
     * the clone); a cgroup namespace made now has it as its root */
    SKIFF_SYNC_CGROUP_ACK = 9,
    /* child -> parent: the mounts are made, pivot_root is next: run the
     * prestart and createRuntime hooks */
    SKIFF_SYNC_HOOKS_PLS = 10,
    /* parent -> child: they ran; two fds come with it (SCM_RIGHTS): the
     * state for createContainer ("creating") and for startContainer
     * ("created") */
    SKIFF_SYNC_HOOKS_ACK = 11,
    /* child -> parent (exec): the namespaces are joined and the process
     * that runs the plan is cloned, a child of the parent's; its pid is in
     * `index`. The joining process exits. */
    SKIFF_SYNC_EXEC_PID = 12,
};

#define SKIFF_MAX_PARENT_TREES 64
#define SKIFF_MAX_EARLY_BINDS 256
#define SKIFF_MAX_LATE_READONLY 64

/* Steps of the child, in the order it runs them. Carried in a failure
 * record so that the parent can name the step and the object. */
enum skiff_step {
    SKIFF_STEP_NONE = 0,
    SKIFF_STEP_PROTOCOL, /* unexpected message */
    SKIFF_STEP_DUMPABLE, /* PR_SET_DUMPABLE */
    SKIFF_STEP_FDS, /* mark inherited fds close-on-exec */
    SKIFF_STEP_SIGNALS, /* reset dispositions and mask */
    SKIFF_STEP_USERNS_ROOT, /* become root in the new user namespace */
    SKIFF_STEP_SETNS, /* join namespace [index] */
    SKIFF_STEP_TIMENS, /* create the time namespace */
    SKIFF_STEP_TIMENS_ENTER, /* enter time_for_children */
    SKIFF_STEP_KEYRING, /* join (or make) the session keyring */
    SKIFF_STEP_CGROUPNS, /* unshare the cgroup namespace after the attach */
    SKIFF_STEP_CGROUP_JOIN, /* v1: move into the cgroup of tasks file [index] */
    SKIFF_STEP_ROOT_PROPAGATION, /* make "/" slave or private */
    SKIFF_STEP_ROOTFS_BIND, /* bind the rootfs onto itself */
    SKIFF_STEP_ROOTFS_OPEN, /* open the rootfs */
    SKIFF_STEP_MOUNT_TARGET, /* resolve/create the target of mount [index] */
    SKIFF_STEP_MOUNT_IN_PROC, /* mount [index] resolved into /proc: refused */
    SKIFF_STEP_MOUNT_SOURCE, /* open the source tree of bind mount [index] */
    SKIFF_STEP_MOUNT, /* mount [index] */
    SKIFF_STEP_MOUNT_IDMAP, /* idmap mount [index] */
    SKIFF_STEP_MOUNT_ATTR, /* set attributes of mount [index] */
    SKIFF_STEP_MOUNT_PROPAGATION, /* set propagation of mount [index] */
    SKIFF_STEP_MOUNT_COPYUP, /* tmpcopyup of mount [index] */
    SKIFF_STEP_DEVICE_DIR, /* create directory [index] */
    SKIFF_STEP_DEVICE, /* create device [index] */
    SKIFF_STEP_SYMLINK, /* create link [index] */
    SKIFF_STEP_PIVOT_ROOT, /* pivot_root into the rootfs */
    SKIFF_STEP_ROOTFS_PROPAGATION, /* linux.rootfsPropagation */
    SKIFF_STEP_PROCFS, /* a private procfs for sysctls */
    SKIFF_STEP_SYSCTL, /* write sysctl [index] */
    SKIFF_STEP_MASK, /* mask path [index] */
    SKIFF_STEP_READONLY_PATH, /* make path [index] read-only */
    SKIFF_STEP_ROOTFS_READONLY, /* root.readonly */
    SKIFF_STEP_HOSTNAME,
    SKIFF_STEP_DOMAINNAME,
    SKIFF_STEP_LOOPBACK, /* bring lo up */
    SKIFF_STEP_RLIMIT, /* set rlimit [index] */
    SKIFF_STEP_PERSONALITY,
    SKIFF_STEP_LSM, /* [index] 0: AppArmor, 1: SELinux exec label */
    SKIFF_STEP_SCHEDULER, /* sched_setattr */
    SKIFF_STEP_IOPRIO, /* ioprio_set */
    SKIFF_STEP_MEMPOLICY, /* set_mempolicy */
    SKIFF_STEP_CPU_AFFINITY, /* sched_setaffinity: [index] 0 initial, 1 final */
    SKIFF_STEP_CAP_BOUNDING, /* drop capability [index] from the bounding set */
    SKIFF_STEP_KEEPCAPS,
    SKIFF_STEP_SETGROUPS,
    SKIFF_STEP_SETGID,
    SKIFF_STEP_SETUID,
    SKIFF_STEP_CAPSET,
    SKIFF_STEP_CAP_AMBIENT, /* raise ambient capability [index] */
    SKIFF_STEP_NO_NEW_PRIVS,
    SKIFF_STEP_SETSID, /* a session of its own */
    SKIFF_STEP_STDIO_OWNER, /* chown stdio [index] to the container's user */
    SKIFF_STEP_CHDIR,
    SKIFF_STEP_CWD_VERIFY, /* cwd is outside the container root */
    SKIFF_STEP_START_WAIT, /* waiting for start */
    SKIFF_STEP_SECCOMP,
    SKIFF_STEP_EXEC, /* execve of candidate [index] */
    /* A hook failed: index = (wait status << 16) | hook; error = why it
     * did not run, ETIMEDOUT (killed at its timeout), or 0 (see the
     * status). Its output comes with the record (SCM_RIGHTS). */
    SKIFF_STEP_HOOK_CREATE_CONTAINER,
    SKIFF_STEP_HOOK_START_CONTAINER,
    SKIFF_STEP_CONSOLE, /* the terminal: [index] enum skiff_console_part */
    SKIFF_STEP_EXEC_JOIN, /* exec: [index] 0 join the namespaces, 1 clone */
    SKIFF_STEP_COUNT
};

/* What SKIFF_STEP_CONSOLE was doing. */
enum skiff_console_part {
    SKIFF_CONSOLE_FILE = 0, /* make or open /dev/console (no links) */
    SKIFF_CONSOLE_PTMX = 1, /* open /dev/pts/ptmx of the container's devpts */
    SKIFF_CONSOLE_PEER = 2, /* unlock, open and own the slave */
    SKIFF_CONSOLE_SIZE = 3, /* process.consoleSize */
    SKIFF_CONSOLE_BIND = 4, /* bind the slave at /dev/console */
    SKIFF_CONSOLE_SEND = 5, /* send the master to the console socket */
    SKIFF_CONSOLE_CTTY = 6, /* setsid, TIOCSCTTY, stdio */
};

/* The failure (or sync) record. Fixed size: no parsing in the child. */
typedef struct skiff_msg {
    uint32_t type; /* enum skiff_sync */
    uint32_t step; /* enum skiff_step, for SKIFF_SYNC_ERROR */
    int32_t error; /* errno, for SKIFF_SYNC_ERROR */
    int32_t index; /* which mount/device/path/namespace, or -1 */
} skiff_msg;

/* ------------------------------------------------------------------------
 * The plan. All memory is allocated by the parent before the clone; the
 * child gets a copy of it (no CLONE_VM), so pointers stay valid.
 * ---------------------------------------------------------------------- */

enum skiff_mount_kind {
    SKIFF_MOUNT_FS = 1, /* a new filesystem: fsopen, fsconfig with each
                         * option of `data`, fsmount, filled and given
                         * attr_set before move_mount; userns_fd (or
                         * IDMAP_SELF) idmaps it */
    SKIFF_MOUNT_BIND = 2, /* open_tree + mount_setattr + move_mount */
    SKIFF_MOUNT_ATTR = 3, /* mount_setattr on the mount already at target
                           * (a tmpfs made read-only after the mounts below it) */
};

enum skiff_mount_flags {
    SKIFF_MF_RECURSIVE = 1 << 0, /* rbind: clone the whole tree */
    SKIFF_MF_KEEP_LOCKED = 1 << 1, /* in a user namespace: keep the flags the
                                    * kernel locks on an inherited mount */
    SKIFF_MF_FROM_PARENT = 1 << 2, /* the parent made the tree (idmapped and
                                    * with its attributes): only move it */
    SKIFF_MF_IDMAP_SELF = 1 << 3, /* idmap with the child's own user namespace */
    SKIFF_MF_NO_SYMLINKS = 1 << 5, /* no symlink on the way to the target */
    SKIFF_MF_PROC_OK = 1 << 6, /* may be mounted at its target inside /proc
                                * (procfs at /proc, lxcfs-style binds) */
    SKIFF_MF_KEEP_MODE = 1 << 7, /* a new filesystem takes the mode of the
                                  * directory it covers (tmpfs without mode=) */
    SKIFF_MF_COPY_UP = 1 << 8, /* tmpcopyup: copy what the target directory
                                * holds into the new filesystem */
    SKIFF_MF_CGROUP_SOURCE = 1 << 9, /* a bind from the cgroup hierarchies:
                                      * with cgroup_late, its source may not
                                      * exist before await_cgroup */
};

struct skiff_mount {
    uint32_t kind; /* enum skiff_mount_kind */
    uint32_t flags; /* enum skiff_mount_flags */
    const char *source; /* fs source, or absolute host path of a bind */
    const char *target; /* below the rootfs, relative ("dev/pts") */
    const char *fstype; /* SKIFF_MOUNT_FS */
    const char *data; /* SKIFF_MOUNT_FS: fsconfig options ("k=v,flag") or NULL */
    uint64_t attr_set; /* mount_setattr on the mount itself */
    uint64_t attr_clr;
    uint64_t rattr_set; /* mount_setattr with AT_RECURSIVE */
    uint64_t rattr_clr;
    uint64_t propagation; /* MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE or 0 */
    uint32_t propagation_recursive;
    int32_t userns_fd; /* idmapped mount: user namespace fd, or -1 */
    uint32_t idmap_recursive;
};

enum skiff_device_flags {
    SKIFF_DEV_BIND = 1 << 0, /* bind-mount host_path (no mknod in a user ns) */
};

struct skiff_device {
    const char *path; /* below the rootfs, relative */
    uint32_t mode; /* S_IFCHR/S_IFBLK/S_IFIFO | permissions */
    uint64_t rdev; /* makedev(major, minor) */
    uint32_t uid;
    uint32_t gid;
    uint32_t flags; /* enum skiff_device_flags */
    const char *host_path; /* SKIFF_DEV_BIND */
};

struct skiff_symlink {
    const char *target; /* what the link points to */
    const char *path; /* below the rootfs, relative */
};

struct skiff_rlimit {
    int32_t resource;
    uint64_t soft;
    uint64_t hard;
};

/* struct sched_attr (SCHED_ATTR_SIZE_VER1), which glibc 2.36 does not
 * declare; the parent fills it from process.scheduler. */
struct skiff_sched_attr {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
    uint32_t sched_util_min, sched_util_max;
};

struct skiff_hook {
    const char *path; /* absolute */
    const char *const *argv; /* NULL-terminated */
    const char *const *envp; /* NULL-terminated */
    int32_t timeout_ms; /* 0: none */
};

struct skiff_join {
    int32_t fd; /* namespace fd opened by the parent */
    int32_t nstype; /* CLONE_NEW* */
};

struct skiff_plan {
    uint32_t version;

    /* --- process stage -------------------------------------------------- */
    const char *stage_name; /* PR_SET_NAME, seen by ps */
    int32_t sync_fd; /* child's end of the sync socket pair */
    int32_t start_fd; /* listening socket `start` connects to, or -1 */
    int32_t startup_fd; /* what the start-up holds open (skiff_startup_fd),
                         * closed first, or -1 */
    uint64_t clone_flags; /* CLONE_NEW* created by clone3 */
    int32_t cgroup_fd; /* CLONE_INTO_CGROUP, or -1 */
    uint32_t preserve_fds; /* fds 3 .. 3+n-1 reach the container */
    uint32_t n_keep_fds; /* skiff's own fds the child uses (sorted, all
                          * close-on-exec); every other fd is closed */
    const int32_t *keep_fds;
    uint32_t n_parent_trees; /* SKIFF_SYNC_MOUNTFDS to wait for (<= SKIFF_MAX_PARENT_TREES) */
    uint32_t wait_usermap; /* a new user namespace: wait for its maps */
    uint32_t unprivileged_parent; /* the parent (or newuidmap) is not root: be
                                   * dumpable while it writes our /proc files
                                   * (maps, time offsets), root's otherwise */
    uint32_t userns_root; /* then become root in it (0 is mapped) */

    uint32_t early_binds; /* open bind sources right after the clone,
                           * with the caller's credentials (a new user
                           * namespace's ids may not reach them), and
                           * while the mounts are still the host's peers
                           * (a bind of a shared mount stays in its peer
                           * group: rootfsPropagation shared) */

    /* exec: join every namespace of a running container's first process
     * and clone the process that runs the rest of the plan (no rootfs:
     * it is the container's). */
    uint32_t exec_join;
    int32_t join_pidfd; /* the container's first process */
    uint32_t join_flags; /* CLONE_NEW* to join through it */

    uint32_t n_joins; /* setns, in this order (user first) */
    const struct skiff_join *joins;

    uint32_t new_timens; /* unshare a time namespace */
    uint32_t timens_offsets; /* the parent writes offsets (TIMEOFFSETS_PLS) */
    uint32_t cgroup_late; /* the cgroup comes after the clone (a systemd
                           * scope; v1 hierarchies made meanwhile): wait for
                           * SKIFF_SYNC_CGROUP_ACK, with n_cgroup_tasks `tasks`
                           * fds, before mount [cgroup_wait_mount] (the first
                           * that needs the cgroup) or else the devices */
    uint32_t cgroup_wait_mount;
    uint32_t cgroupns_late; /* then unshare the cgroup namespace (not cloned) */
    uint32_t n_cgroup_tasks; /* v1: `tasks` files of the container's cgroups */
    const int32_t *cgroup_tasks; /* (open for writing, close-on-exec; not with
                                  * cgroup_late): the child writes "0" to
                                  * each, first thing */

    /* --- filesystem (always in a mount namespace of our own) ------------ */
    const char *rootfs; /* absolute host path */
    unsigned long root_propagation; /* for "/" before anything: MS_SLAVE|MS_REC ... */
    unsigned long rootfs_propagation; /* for the new "/" after pivot_root, or 0 */
    uint32_t rootfs_readonly;
    uint32_t no_pivot; /* MS_MOVE + chroot instead of pivot_root */

    uint32_t n_mounts;
    const struct skiff_mount *mounts;
    uint32_t n_devices;
    const struct skiff_device *devices;
    uint32_t n_dirs; /* directories made after the mounts */
    const char *const *dirs; /* below the rootfs, relative */
    uint32_t n_symlinks;
    const struct skiff_symlink *symlinks;

    uint32_t n_late_readonly; /* mounts made read-only after the devices */
    const uint32_t *late_readonly; /* indices into mounts */

    uint32_t n_sysctls;
    const char *const *sysctl_paths; /* absolute, inside the container */
    const char *const *sysctl_values;
    uint32_t n_masked;
    const char *const *masked; /* absolute, inside the container */
    uint32_t n_readonly;
    const char *const *readonly;

    /* --- terminal (process.terminal) ------------------------------------ */
    int32_t console_fd; /* connected console socket, or -1: no terminal */
    uint32_t console_rows; /* process.consoleSize, 0: leave */
    uint32_t console_cols;
    const char *console_path; /* "dev/console": made before pivot_root and
                               * bound to the slave; NULL: no bind (exec) */

    /* --- hooks ---------------------------------------------------------- */
    uint32_t hooks_sync; /* HOOKS_PLS before pivot_root, wait for HOOKS_ACK */
    uint32_t n_create_hooks; /* createContainer: after HOOKS_ACK */
    const struct skiff_hook *create_hooks;
    uint32_t n_start_hooks; /* startContainer: after START, before execve */
    const struct skiff_hook *start_hooks;

    /* --- identity and limits -------------------------------------------- */
    const char *session_keyring; /* join this session keyring ("_ses.<id>",
                                  * made if missing; searchable by its user),
                                  * or NULL: keep the caller's (--no-new-keyring) */
    const char *hostname; /* NULL: leave */
    const char *domainname;
    uint32_t loopback_up;

    uint32_t n_rlimits;
    const struct skiff_rlimit *rlimits;
    int32_t personality; /* -1: leave */

    const char *apparmor_exec; /* "exec <profile>" for attr/apparmor/exec, or NULL */
    const char *selinux_exec; /* the label for attr/exec, or NULL */

    const void *sched_attr; /* struct sched_attr for sched_setattr, or NULL */
    int32_t ioprio; /* ioprio_set value, or -1 */
    int32_t mempolicy_mode; /* set_mempolicy mode with flags, or -1 */
    uint32_t mempolicy_maxnode; /* bits in mempolicy_nodes */
    const uint64_t *mempolicy_nodes;
    uint32_t cpus_words; /* 64-bit words in the masks below */
    const uint64_t *cpus_initial; /* sched_setaffinity at the clone, or NULL */
    const uint64_t *cpus_final; /* and just before execve, or NULL */

    uint32_t uid;
    uint32_t gid;
    uint32_t set_groups; /* 0: setgroups is denied in this user ns */
    uint32_t n_groups;
    const gid_t *groups;
    uint32_t umask;

    uint32_t cap_last; /* highest capability the kernel knows */
    uint64_t cap_bounding;
    uint64_t cap_effective;
    uint64_t cap_permitted;
    uint64_t cap_inheritable;
    uint64_t cap_ambient;
    uint32_t no_new_privs;

    const void *seccomp_filter; /* struct sock_filter[], or NULL */
    uint32_t seccomp_len; /* number of instructions */
    uint32_t seccomp_flags; /* SECCOMP_FILTER_FLAG_* */
    uint32_t seccomp_early; /* load before the identity change (no
                             * no_new_privs: needs CAP_SYS_ADMIN) */
    uint32_t seccomp_listener; /* SCMP_ACT_NOTIFY: load with a listener
                                * before READY, which carries its fd */

    const char *cwd;
    const char *cwd_in_root; /* the cwd below the rootfs, created if missing
                              * (before the rootfs is made read-only), or NULL */
    /* execve candidates for args[0], in PATH order */
    uint32_t n_exec_paths;
    const char *const *exec_paths;
    const char *const *argv; /* NULL-terminated */
    const char *const *envp; /* NULL-terminated */
};

/*
 * Clone the container's first process and run the plan in it.
 * Returns the child's pid (and its pidfd in *pidfd) in the parent, or
 * -errno. Never returns in the child.
 */
pid_t skiff_spawn(const struct skiff_plan *plan, int *pidfd);

/* Names for messages and logs, defined once. */
const char *skiff_sync_name(uint32_t type);
const char *skiff_step_name(uint32_t step);

/* Parent side of idmapped binds. A detached copy of `source` with an
 * idmapping and attributes; returns the tree fd, or -errno with the failing
 * step (SKIFF_STEP_MOUNT_SOURCE, _IDMAP, _ATTR) in *step. */
int skiff_make_tree(const struct skiff_mount *m, uint32_t *step);
/* Sends fds with one message. */
int skiff_send_fds(int sock, uint32_t type, const int *fds, uint32_t n);
/* Receives one message and at most one fd with it (*fd = -1 without);
 * returns the bytes received (0 at end of file), or -errno. A message of
 * another length, or more fds, is EPROTO. */
int skiff_recv_with_fd(int sock, skiff_msg *m, int *fd);
/* Sends bytes and one fd (SCM_RIGHTS) on a connected socket; -errno. */
int skiff_send_with_fd(int sock, const void *bytes, size_t len, int fd);
/* Receives one fd sent with any short payload (a console master, as runc
 * sends it); the fd, or -errno (-EPROTO without one). */
int skiff_recv_fd(int sock);
/* A process in a new user namespace that does nothing: its maps make a user
 * namespace for an idmapping. Killed through *pidfd once its ns is open. */
pid_t skiff_spawn_userns_holder(int *pidfd);

/* The binary a container can reach through /proc/<pid>/exe (exe.c). */
enum skiff_exe_kind {
    SKIFF_EXE_WRITABLE = 0, /* an ordinary file: must not be exposed */
    SKIFF_EXE_READONLY = 1, /* on a read-only mount or filesystem */
    SKIFF_EXE_SEALED = 2, /* a memfd sealed against writes */
};
int skiff_exe_kind(void);
/* 1 if this process was re-executed by skiff from a protected copy: the
 * marker in the environment names this very pid. */
int skiff_reexecuted(void);
/* execve of this binary through a detached read-only overlayfs (or, with
 * allow_memfd, a sealed memfd copy where overlayfs is refused). Returns
 * -errno only on failure. */
int skiff_exec_protected(char *const argv[], char *const envp[], int allow_memfd, int *used_memfd);

/* The start-up (host/startup/startup.c), run before Swift starts: the
 * protected binary and fault-around. Its decisions, for tests: */
enum skiff_startup_action {
    SKIFF_STARTUP_NONE = 0, /* nothing (ProtectedBinary.ensure decides) */
    SKIFF_STARTUP_SWAP = 1, /* swap the image onto the overlay's copy */
    SKIFF_STARTUP_REEXEC = 2, /* re-execute from the overlay's copy */
};
/* The index in argv of the command (the first argument after the global
 * options), or -1. */
int skiff_startup_command(int argc, char *const argv[]);
/* 1 for the commands whose process a container can reach. */
int skiff_startup_protects(const char *command);
/* 1 where the in-place swap is built (x86-64). */
int skiff_startup_swap_supported(void);
int skiff_startup_action(int protects, int reexecuted, unsigned int euid, int in_userns, int exe_kind,
                         int swap_allowed);
/* The fd the start-up keeps open for the process's life (the fault-around
 * userfaultfd), or -1: a child closes it first. */
int skiff_startup_fd(void);

/* CRIU's service (host/criu.c): fork and execve with fds[i] at 3 + i and
 * stdio kept (stdout and stderr go to fds[0] when output >= 0), every
 * other fd closed, no_new_privs set first if asked; the pid or -errno. One packet of the
 * seqpacket socket with the fd it may carry (-1 if none); its length or
 * -errno (-EMSGSIZE when it did not fit). */
pid_t skiff_spawn_with_fds(const char *path, char *const argv[], char *const envp[], const int *fds, uint32_t n,
                           int output, int no_new_privs);
ssize_t skiff_recv_packet(int sock, void *buf, size_t len, int *fd);

/* Runs one hook: fork, stdin from state_fd (rewound; /dev/null if -1),
 * stdout and stderr into a new memfd (*out_fd), killed at its timeout.
 * Returns 0 with the wait status in *status, -ETIMEDOUT (killed; *out_fd
 * still set), or -errno when it could not be run. */
int skiff_run_hook(const struct skiff_hook *h, int state_fd, int *out_fd, int *status);

/* Moves the interface `name` of the current network namespace into the one
 * netns_fd refers to, renamed `newname` (or not, NULL); 0 or -errno. */
int skiff_link_move(const char *name, const char *newname, int netns_fd);

/* `skiff check`: 1 if the kernel has the syscall, 0 if not (probed with
 * arguments that only fail), -1 for a name it does not know. */
int skiff_probe_syscall(const char *name);
int skiff_probe_idmap(int userns);
int skiff_eventfd(void);
/* Whether `path` has the extended attribute `name` (file capabilities). */
int skiff_has_xattr(const char *path, const char *name);

/* Raw syscalls glibc 2.36 does not wrap, for the Swift side. */
int skiff_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);
int skiff_ns_type(int fd); /* ioctl(NS_GET_NSTYPE), or -errno */
int skiff_errno(void); /* errno, read right after a call */
int skiff_pidfd_open(pid_t pid); /* close-on-exec by the kernel */
int skiff_pidfd_send_signal(int pidfd, int sig);
int skiff_flock(int fd, int op); /* Swift sees `flock` as the struct */
long skiff_fs_magic(const char *path); /* statfs f_type, or -errno */
int skiff_memfd(const char *name); /* memfd_create, close-on-exec */
uint64_t skiff_random64(void); /* getrandom */
#define SKIFF_PROC_SUPER_MAGIC 0x9fa0

/* GNU parts of glibc that Swift's Glibc module hides (no _GNU_SOURCE there). */
extern const int skiff_O_PATH;
int skiff_setns(int fd, int nstype);
int skiff_unshare(int flags); /* 0 or -errno */
/* cgroup v2 device programs (bpf.c); -errno on failure. */
int skiff_bpf_device_program(const uint64_t *insns, uint32_t n, char *log, uint32_t log_size);
int skiff_bpf_attach_device(int cgroup_fd, int prog_fd);
int skiff_bpf_device_programs(int cgroup_fd, uint32_t *ids, uint32_t max); /* count */
int skiff_bpf_detach_device(int cgroup_fd, uint32_t prog_id);
int skiff_pipe2(int fds[2], int flags);
int skiff_signalfd(const void *sigset); /* a sigset_t, close-on-exec */
int skiff_signalfd_read(int fd); /* one signal number, or -1 */
uint64_t skiff_makedev(uint32_t major, uint32_t minor);

#endif
