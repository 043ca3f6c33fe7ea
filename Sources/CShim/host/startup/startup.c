/*
 * The start-up tricks, behind one door: what skiff does before the Swift
 * runtime starts (crun's ensure_cloned_binary is the model).
 *
 * 1. The protected binary (CVE-2019-5736): for root's create, run and exec,
 *    /proc/self/exe becomes a read-only overlay's copy of the binary. On
 *    x86-64 the running image is swapped onto the copy in place
 *    (exeswap.c), which saves a second execve; elsewhere, or with
 *    SKIFF_NO_EXESWAP=1, skiff re-executes from the copy (exe.c).
 *    Anything this leaves undone (other callers, the memfd fallback,
 *    errors) is ProtectedBinary.ensure's, which checks again and says why.
 * 2. Fault-around off for skiff's own image (faultaround.c), where the
 *    kernel has UFFD_FEATURE_WP_ASYNC; SKIFF_NO_FAULTAROUND=1 leaves it.
 *
 * The command line is read here before Swift parses it: only which
 * argument is the command. The global options that take a value are the
 * table below; RuntimeTests/StartupTests checks it against the Swift
 * parser's (Sources/skiff/main.swift) for every global option and form.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

/* skiff's global options that take a value (main.swift's `.value`). */
static const char *const value_options[] = { "root", "log", "log-format" };

/* The commands whose process a container can reach. */
static const char *const protected_commands[] = { "create", "run", "exec" };

int skiff_startup_command(int argc, char *const argv[])
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (strcmp(a, "--") == 0)
            return -1;
        const char *name = a + (a[1] == '-' ? 2 : 1);
        if (strchr(name, '='))
            continue;
        for (size_t k = 0; k < sizeof value_options / sizeof *value_options; k++) {
            if (strcmp(name, value_options[k]) == 0) {
                i++;
                break;
            }
        }
    }
    return i < argc ? i : -1;
}

int skiff_startup_protects(const char *command)
{
    for (size_t k = 0; k < sizeof protected_commands / sizeof *protected_commands; k++) {
        if (strcmp(command, protected_commands[k]) == 0)
            return 1;
    }
    return 0;
}

int skiff_startup_swap_supported(void)
{
#if defined(__x86_64__)
    return 1;
#else
    return 0;
#endif
}

int skiff_startup_action(int protects, int reexecuted, unsigned int euid, int in_userns, int exe_kind, int swap_allowed)
{
    /* Root of a user namespace and unprivileged callers: ProtectedBinary
     * decides (a binary of another owner's needs no copy). */
    if (!protects || reexecuted || euid != 0 || in_userns || exe_kind != SKIFF_EXE_WRITABLE)
        return SKIFF_STARTUP_NONE;
    return swap_allowed && skiff_startup_swap_supported() ? SKIFF_STARTUP_SWAP : SKIFF_STARTUP_REEXEC;
}

static int switched_off(const char *variable)
{
    const char *v = getenv(variable);
    return v && strcmp(v, "1") == 0;
}

/* uid_map other than the whole range: root of a user namespace. */
static int in_user_namespace(void)
{
    char buf[128];
    int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 1;
    buf[n] = '\0';
    unsigned long inside, outside, count;
    char extra;
    return !(sscanf(buf, " %lu %lu %lu %c", &inside, &outside, &count, &extra) == 3 && inside == 0 && outside == 0 &&
             count == 4294967295UL);
}

/* Re-executes from the overlay's copy; returns only if that failed. The
 * marker goes into a copy of the environment: if the exec fails, skiff
 * goes on with its own environment as it was. */
static void reexecute(char **argv, char **envp)
{
    size_t n = 0;
    while (envp[n])
        n++;
    char **env = malloc((n + 2) * sizeof *env);
    if (!env)
        return;
    static char marker[48];
    snprintf(marker, sizeof marker, "_SKIFF_PROTECTED_EXE=%ld", (long)getpid());
    env[0] = marker;
    memcpy(env + 1, envp, (n + 1) * sizeof *env);
    int used_memfd;
    skiff_exec_protected(argv, env, 0, &used_memfd);
    free(env); /* failed: ProtectedBinary.ensure tries and says why */
}

static void protect(int argc, char **argv, char **envp)
{
    int at = skiff_startup_command(argc, argv);
    int protects = at > 0 && skiff_startup_protects(argv[at]);
    /* Cheapest facts first: most commands stop at the first. */
    if (!protects || skiff_reexecuted() || geteuid() != 0)
        return;
    int action =
        skiff_startup_action(protects, 0, 0, in_user_namespace(), skiff_exe_kind(), !switched_off("SKIFF_NO_EXESWAP"));
    if (action == SKIFF_STARTUP_NONE)
        return;
    if (action == SKIFF_STARTUP_SWAP) {
        int fd = overlay_copy();
        if (fd >= 0) {
            int swapped = swap_image_file(fd) == 0;
            close(fd);
            if (swapped)
                return;
        }
    }
    reexecute(argv, envp);
}

int skiff_startup_fd(void)
{
    return skiff_fault_fd;
}

/* The door. glibc passes init_array functions argc, argv and the
 * environment; priority 101 runs this before the Swift runtime's own
 * initialisers. */
__attribute__((constructor(101))) static void skiff_startup(int argc, char **argv, char **envp)
{
    skiff_keep_args(argc, argv);
    protect(argc, argv, envp);
    /* After protect: swapping the image maps it again. */
    if (!switched_off("SKIFF_NO_FAULTAROUND"))
        limit_fault_around();
}
