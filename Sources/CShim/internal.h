/*
 * Declarations shared by the shim's files (not seen by Swift). Each file is
 * one stage of the child: sync.c (the protocol), paths.c (lookups inside the
 * rootfs), mounts.c, rootfs.c, identity.c, and shim.c, which runs them in
 * order between clone3 and execve.
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

/* names.c */
int sys_openat2(int dirfd, const char *path, struct open_how *how);

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
void fd_path(char buf[32], int fd);
int open_in_root(int rootfd, const char *path, int create);
int open_parent_in_root(int rootfd, const char *path, const char **name);
int remember_root(int rootfd);
const char *root_host_path(void);
int path_in_root(int fd, char buf[PATH_MAX], const char **rel);
void forget_parent(void);

/* mounts.c */
int setattr(int fd, unsigned int flags, uint64_t set, uint64_t clr, uint64_t propagation, int userns);
void open_bind_sources(const struct skiff_plan *p);
/* Makes mount [i]; returns the fd of the mount made there. */
int do_mount(int rootfd, const struct skiff_mount *m, int32_t i);
void make_device(int rootfd, const struct skiff_device *d, int32_t i);
void make_symlink(int rootfd, const struct skiff_symlink *l, int32_t i);

/* faultaround.c: page faults on skiff's own image map one page (or three),
 * not the kernel's fault-around window; called once, before Swift starts.
 * skiff_fault_fd is the userfaultfd that does it (-1 if none): a child
 * closes it with its other descriptors, before it honours preserve_fds. */
void limit_fault_around(void);
extern int skiff_fault_fd;

/* exeswap.c: /proc/self/exe becomes fd (a copy of the same bytes)
 * without a second execve; 0, or -1 with errno and nothing changed. */
int swap_image_file(int fd);

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
