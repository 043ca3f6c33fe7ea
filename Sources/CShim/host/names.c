/* Names of sync messages and steps, for the parent's messages and logs. */
#include "internal.h"

const char *skiff_sync_name(uint32_t type)
{
    switch (type) {
    case SKIFF_SYNC_NONE:
        return "SKIFF_SYNC_NONE";
    case SKIFF_SYNC_USERMAP_ACK:
        return "SKIFF_SYNC_USERMAP_ACK";
    case SKIFF_SYNC_READY:
        return "SKIFF_SYNC_READY";
    case SKIFF_SYNC_COMMIT:
        return "SKIFF_SYNC_COMMIT";
    case SKIFF_SYNC_START:
        return "SKIFF_SYNC_START";
    case SKIFF_SYNC_ERROR:
        return "SKIFF_SYNC_ERROR";
    case SKIFF_SYNC_MOUNTFDS:
        return "SKIFF_SYNC_MOUNTFDS";
    case SKIFF_SYNC_TIMEOFFSETS_PLS:
        return "SKIFF_SYNC_TIMEOFFSETS_PLS";
    case SKIFF_SYNC_TIMEOFFSETS_ACK:
        return "SKIFF_SYNC_TIMEOFFSETS_ACK";
    case SKIFF_SYNC_CGROUP_ACK:
        return "SKIFF_SYNC_CGROUP_ACK";
    case SKIFF_SYNC_HOOKS_PLS:
        return "SKIFF_SYNC_HOOKS_PLS";
    case SKIFF_SYNC_HOOKS_ACK:
        return "SKIFF_SYNC_HOOKS_ACK";
    case SKIFF_SYNC_EXEC_PID:
        return "SKIFF_SYNC_EXEC_PID";
    }
    return "SKIFF_SYNC_UNKNOWN";
}

const char *skiff_step_name(uint32_t step)
{
    static const char *const names[SKIFF_STEP_COUNT] = {
        [SKIFF_STEP_NONE] = "none",
        [SKIFF_STEP_PROTOCOL] = "sync",
        [SKIFF_STEP_DUMPABLE] = "set dumpable",
        [SKIFF_STEP_FDS] = "close inherited fds",
        [SKIFF_STEP_SIGNALS] = "reset signals",
        [SKIFF_STEP_USERNS_ROOT] = "become root in the user namespace",
        [SKIFF_STEP_SETNS] = "setns",
        [SKIFF_STEP_TIMENS] = "unshare time namespace",
        [SKIFF_STEP_TIMENS_ENTER] = "enter time namespace",
        [SKIFF_STEP_KEYRING] = "join session keyring",
        [SKIFF_STEP_CGROUPNS] = "unshare cgroup namespace",
        [SKIFF_STEP_CGROUP_JOIN] = "join v1 cgroup",
        [SKIFF_STEP_ROOT_PROPAGATION] = "make / private",
        [SKIFF_STEP_ROOTFS_BIND] = "bind rootfs",
        [SKIFF_STEP_ROOTFS_OPEN] = "open rootfs",
        [SKIFF_STEP_MOUNT_TARGET] = "mount target",
        [SKIFF_STEP_MOUNT_IN_PROC] = "mount inside /proc",
        [SKIFF_STEP_MOUNT_SOURCE] = "mount source",
        [SKIFF_STEP_MOUNT] = "mount",
        [SKIFF_STEP_MOUNT_IDMAP] = "idmap mount",
        [SKIFF_STEP_MOUNT_ATTR] = "mount attributes",
        [SKIFF_STEP_MOUNT_PROPAGATION] = "mount propagation",
        [SKIFF_STEP_DEVICE_DIR] = "directory",
        [SKIFF_STEP_DEVICE] = "device",
        [SKIFF_STEP_SYMLINK] = "symlink",
        [SKIFF_STEP_PIVOT_ROOT] = "pivot_root",
        [SKIFF_STEP_ROOTFS_PROPAGATION] = "rootfs propagation",
        [SKIFF_STEP_PROCFS] = "procfs for sysctls",
        [SKIFF_STEP_SYSCTL] = "sysctl",
        [SKIFF_STEP_MASK] = "mask",
        [SKIFF_STEP_READONLY_PATH] = "readonly path",
        [SKIFF_STEP_ROOTFS_READONLY] = "readonly rootfs",
        [SKIFF_STEP_HOSTNAME] = "sethostname",
        [SKIFF_STEP_DOMAINNAME] = "setdomainname",
        [SKIFF_STEP_LOOPBACK] = "loopback up",
        [SKIFF_STEP_RLIMIT] = "setrlimit",
        [SKIFF_STEP_PERSONALITY] = "personality",
        [SKIFF_STEP_LSM] = "LSM exec label",
        [SKIFF_STEP_SCHEDULER] = "sched_setattr",
        [SKIFF_STEP_IOPRIO] = "ioprio_set",
        [SKIFF_STEP_MEMPOLICY] = "set_mempolicy",
        [SKIFF_STEP_CPU_AFFINITY] = "sched_setaffinity",
        [SKIFF_STEP_CAP_BOUNDING] = "drop bounding capability",
        [SKIFF_STEP_KEEPCAPS] = "keep capabilities",
        [SKIFF_STEP_SETGROUPS] = "setgroups",
        [SKIFF_STEP_SETGID] = "setresgid",
        [SKIFF_STEP_SETUID] = "setresuid",
        [SKIFF_STEP_CAPSET] = "capset",
        [SKIFF_STEP_CAP_AMBIENT] = "raise ambient capability",
        [SKIFF_STEP_NO_NEW_PRIVS] = "no_new_privs",
        [SKIFF_STEP_SETSID] = "setsid",
        [SKIFF_STEP_STDIO_OWNER] = "chown stdio",
        [SKIFF_STEP_CHDIR] = "chdir",
        [SKIFF_STEP_CWD_VERIFY] = "verify cwd",
        [SKIFF_STEP_START_WAIT] = "wait for start",
        [SKIFF_STEP_SECCOMP] = "seccomp",
        [SKIFF_STEP_EXEC] = "exec",
        [SKIFF_STEP_HOOK_CREATE_CONTAINER] = "createContainer hook",
        [SKIFF_STEP_HOOK_START_CONTAINER] = "startContainer hook",
        [SKIFF_STEP_CONSOLE] = "terminal",
        [SKIFF_STEP_EXEC_JOIN] = "join the container",
        [SKIFF_STEP_MOUNT_COPYUP] = "tmpcopyup",
    };
    if (step < SKIFF_STEP_COUNT && names[step])
        return names[step];
    return "unknown step";
}
