#include <seccomp.h>
#include <stdint.h>

/* libseccomp's action macros take arguments, which Swift does not import. */
static inline uint32_t skiff_scmp_act_errno(uint32_t e)
{
    return SCMP_ACT_ERRNO(e);
}
static inline uint32_t skiff_scmp_act_trace(uint32_t e)
{
    return SCMP_ACT_TRACE(e);
}
static const uint32_t skiff_scmp_act_kill_process = SCMP_ACT_KILL_PROCESS;
static const uint32_t skiff_scmp_act_kill_thread = SCMP_ACT_KILL_THREAD;
static const uint32_t skiff_scmp_act_trap = SCMP_ACT_TRAP;
static const uint32_t skiff_scmp_act_log = SCMP_ACT_LOG;
static const uint32_t skiff_scmp_act_allow = SCMP_ACT_ALLOW;
static const uint32_t skiff_scmp_act_notify = SCMP_ACT_NOTIFY;
