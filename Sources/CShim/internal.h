/*
 * Declarations shared by the shim's files (not seen by Swift). child/ is
 * what runs between clone3 and execve: child.c runs the stages in order,
 * the other files are their steps (sync.c the protocol, paths.c lookups
 * inside the rootfs, mounts.c, rootfs.c, identity.c, terminal.c,
 * execjoin.c, hooks.c). host/ is the parent's C; common/ what both call.
 */
#ifndef SKIFF_INTERNAL_H
#define SKIFF_INTERNAL_H

#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#pragma GCC visibility push(hidden)

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* struct clone_args, CLONE_ARGS_SIZE_VER2 (with cgroup): child.c's clone
 * and host/idmap.c's user namespace holder. */
struct skiff_clone_args {
    uint64_t flags;
    uint64_t pidfd;
    uint64_t child_tid;
    uint64_t parent_tid;
    uint64_t exit_signal;
    uint64_t stack;
    uint64_t stack_size;
    uint64_t tls;
    uint64_t set_tid;
    uint64_t set_tid_size;
    uint64_t cgroup;
};

/* common/syscalls.c */
int sys_openat2(int dirfd, const char *path, struct open_how *how);
int setattr(int fd, unsigned int flags, uint64_t set, uint64_t clr, uint64_t propagation, int userns);
void fd_path(char buf[32], int fd);

/* sync.c: where a failure is reported (the sync socket, then the `start`
 * connection), and the messages. */
extern int report_fd;
void send_msg(int fd, uint32_t type, uint32_t step, int32_t err, int32_t index);
__attribute__((noreturn)) void fail(uint32_t step, int32_t index);
__attribute__((noreturn)) void fail_with_fd(uint32_t step, int32_t index, int fd);
uint32_t recv_msg(int fd);
void expect_msg(int fd, uint32_t want);
void receive_trees(int fd, uint32_t n);
void receive_fds(int fd, uint32_t type, int *fds, uint32_t n);
extern int parent_trees[SKIFF_MAX_PARENT_TREES];
extern uint32_t parent_trees_used;

/* paths.c */
enum { NO_CREATE = 0, CREATE_DIR = 1, CREATE_FILE = 2, NO_SYMLINKS = 8 };
extern const uint64_t in_root;
int open_in_root(int rootfd, const char *path, int create);
int open_parent_in_root(int rootfd, const char *path, const char **name);
void remember_root(int rootfd);
const char *root_host_path(void);
int path_in_root(int fd, char buf[PATH_MAX], const char **rel);
void forget_parent(void);

/* mounts.c */
void open_bind_sources(const struct skiff_plan *p);
/* Makes mount [i]; returns the fd of the mount made there. */
int do_mount(int rootfd, const struct skiff_mount *m, int32_t i);
void make_device(int rootfd, const struct skiff_device *d, int32_t i);
void make_symlink(int rootfd, const struct skiff_symlink *l, int32_t i);

/* host/startup: faultaround.c makes page faults on skiff's own image map
 * one page (or three), not the kernel's fault-around window, except in the
 * hot text before hotend.c's skiff_hot_text_end; skiff_fault_fd
 * is the userfaultfd that does it (-1 if none). exeswap.c makes
 * /proc/self/exe fd (a copy of the same bytes) without a second execve: 0,
 * or -1 with errno and nothing changed. exe.c's overlay_copy opens the
 * binary through a detached read-only overlay. argv.c keeps the command
 * line for Swift's CommandLine. startup.c runs them. */
void limit_fault_around(void);
void skiff_keep_args(int argc, char **argv);
void skiff_hot_text_end(void);
extern int skiff_fault_fd;
int swap_image_file(int fd);
int overlay_copy(void);

/* child.c: the cgroup made after the clone (cgroup_late), joined */
void await_cgroup(const struct skiff_plan *p);

/* rootfs.c */
void setup_rootfs(const struct skiff_plan *p);
void set_exec_labels(const struct skiff_plan *p);

/* identity.c */
void loopback_up(void);
void set_identity(const struct skiff_plan *p);
void join_session_keyring(const struct skiff_plan *p);
void set_scheduling(const struct skiff_plan *p);
void set_cpus(const struct skiff_plan *p, const uint64_t *mask, int32_t which);
int load_seccomp(const struct skiff_plan *p); /* the listener fd, or -1 */

/* copyup.c */
void copy_up(int below, int root, int32_t i);

/* terminal.c */
void make_console_file(int rootfd, const struct skiff_plan *p);
void setup_terminal(const struct skiff_plan *p);

/* execjoin.c */
void exec_join(const struct skiff_plan *p);

/* hooks.c */
void create_hooks(const struct skiff_plan *p);
void start_hooks(const struct skiff_plan *p);

#pragma GCC visibility pop

#endif
