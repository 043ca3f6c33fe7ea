/* cgroup v2's device controller: load a BPF_PROG_TYPE_CGROUP_DEVICE
 * program (built in Swift, Planning/DeviceProgram.swift) and attach it to
 * a cgroup; list and detach the programs already there (update). Parent
 * side only. */
#include "internal.h"

#include <linux/bpf.h>
#include <sys/syscall.h>

static long bpf(int cmd, union bpf_attr *attr)
{
    return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

int skiff_bpf_device_program(const uint64_t *insns, uint32_t n, char *log, uint32_t log_size)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    a.insn_cnt = n;
    a.insns = (uint64_t)(uintptr_t)insns;
    a.license = (uint64_t)(uintptr_t) "Apache-2.0";
    if (log && log_size) {
        log[0] = 0;
        a.log_buf = (uint64_t)(uintptr_t)log;
        a.log_size = log_size;
        a.log_level = 1;
    }
    a.prog_flags = 0;
    int fd = (int)bpf(BPF_PROG_LOAD, &a);
    if (fd < 0 && errno == ENOSPC && log) {
        /* The log did not fit: load again without it for the real error. */
        a.log_buf = 0;
        a.log_size = 0;
        a.log_level = 0;
        fd = (int)bpf(BPF_PROG_LOAD, &a);
    }
    if (fd < 0)
        return -errno;
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0)
        fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
    return fd;
}

int skiff_bpf_attach_device(int cgroup_fd, int prog_fd)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.target_fd = (uint32_t)cgroup_fd;
    a.attach_bpf_fd = (uint32_t)prog_fd;
    a.attach_type = BPF_CGROUP_DEVICE;
    a.attach_flags = BPF_F_ALLOW_MULTI;
    return bpf(BPF_PROG_ATTACH, &a) < 0 ? -errno : 0;
}

int skiff_bpf_device_programs(int cgroup_fd, uint32_t *ids, uint32_t max)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.query.target_fd = (uint32_t)cgroup_fd;
    a.query.attach_type = BPF_CGROUP_DEVICE;
    a.query.prog_ids = (uint64_t)(uintptr_t)ids;
    a.query.prog_cnt = max;
    if (bpf(BPF_PROG_QUERY, &a) < 0)
        return -errno;
    return (int)a.query.prog_cnt;
}

int skiff_bpf_detach_device(int cgroup_fd, uint32_t prog_id)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_id = prog_id;
    int fd = (int)bpf(BPF_PROG_GET_FD_BY_ID, &a);
    if (fd < 0)
        return -errno;
    memset(&a, 0, sizeof a);
    a.target_fd = (uint32_t)cgroup_fd;
    a.attach_bpf_fd = (uint32_t)fd;
    a.attach_type = BPF_CGROUP_DEVICE;
    int r = bpf(BPF_PROG_DETACH, &a) < 0 ? -errno : 0;
    close(fd);
    return r;
}
