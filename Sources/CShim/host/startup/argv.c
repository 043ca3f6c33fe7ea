/*
 * The command line the Swift runtime hands to CommandLine.arguments.
 *
 * Linux has no call that returns a process's argv outside main, so the
 * runtime's own provider (libswiftCore.a's CommandLine.cpp) finds it in a
 * static initializer that runs in every process: it reads /proc/self/maps
 * through stdio for the stack's bounds and walks the initial stack back
 * from `environ` (the first look at /proc of every skiff command, and a
 * constraint on anything that runs before it: environ must not move).
 * glibc hands init_array functions argc and argv, and startup.c's
 * constructor runs before the runtime's; it keeps them here. These two
 * functions are the only symbols that object defines, so with them here
 * the static link leaves it out, initializer and all. (If a toolchain's
 * object grew a symbol the program needs, the link would fail on the
 * duplicate definitions, not go wrong quietly.)
 */
#include "internal.h"

static char *empty_argv[] = { NULL };
static char **saved_argv = empty_argv;
static int saved_argc;

void skiff_keep_args(int argc, char **argv)
{
    if (argv && argc >= 0) {
        saved_argv = argv;
        saved_argc = argc;
    }
}

char **_swift_stdlib_getUnsafeArgvArgc(int *outArgLen);
char **_swift_stdlib_getUnsafeArgvArgc(int *outArgLen)
{
    *outArgLen = saved_argc;
    return saved_argv;
}

void _swift_stdlib_overrideUnsafeArgvArgc(char **argv, int argc);
void _swift_stdlib_overrideUnsafeArgvArgc(char **argv, int argc)
{
    skiff_keep_args(argc, argv);
}
