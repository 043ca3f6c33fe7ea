/*
 * The terminal: a pty from the container's own devpts instance, made after
 * pivot_root, its master sent to the console socket (SCM_RIGHTS, as runc
 * does: recvtty, conmon and containerd's shim receive it), its slave the
 * process's stdio and controlling terminal and, for the first process, the
 * target of a bind at /dev/console.
 *
 * Nothing is looked up by a path the image controls: ptmx is opened as
 * /dev/pts/ptmx without following any link (an image's /dev/ptmx or
 * /dev/pts could lead to the host's devpts), both ends are checked to be on
 * the devpts mounted at /dev/pts, and /dev/console is a regular file reached
 * without links (CVE-2025-52565: a /dev/console link would aim the bind at a
 * file of the runtime's choosing; crun's CVE-2026-88264 likewise).
 */
#include "internal.h"

#include <termios.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

static const uint64_t no_links = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

static int open_no_links(const char *path, uint64_t flags)
{
    struct open_how how = { .flags = flags | O_CLOEXEC, .resolve = no_links };
    return sys_openat2(AT_FDCWD, path, &how);
}

/* Before pivot_root: the file /dev/console is bound over, made without
 * following a link (the image's /dev when no tmpfs covers it). */
void make_console_file(int rootfd, const struct skiff_plan *p)
{
    if (!p->console_path)
        return;
    int fd = open_in_root(rootfd, p->console_path, CREATE_FILE | NO_SYMLINKS);
    if (fd < 0)
        fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_FILE);
    close(fd);
}

void setup_terminal(const struct skiff_plan *p)
{
    if (p->console_fd < 0)
        return;
    int pts = open_no_links("/dev/pts", O_PATH | O_DIRECTORY);
    struct stat pst, st;
    struct statfs sfs;
    if (pts < 0 || fstat(pts, &pst) < 0 || fstatfs(pts, &sfs) < 0)
        fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_PTMX);
    if (sfs.f_type != DEVPTS_SUPER_MAGIC) {
        errno = EMEDIUMTYPE;
        fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_PTMX);
    }
    int master = open_no_links("/dev/pts/ptmx", O_RDWR | O_NOCTTY);
    if (master < 0)
        fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_PTMX);
    /* The instance at /dev/pts, not one the image's links could name. */
    if (fstat(master, &st) < 0 || st.st_dev != pst.st_dev) {
        errno = EXDEV;
        fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_PTMX);
    }
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_PEER);
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0 || fstat(slave, &st) < 0)
        fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_PEER);
    if (st.st_dev != pst.st_dev || !S_ISCHR(st.st_mode)) {
        errno = EXDEV;
        fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_PEER);
    }
    close(pts);
    if (p->console_rows || p->console_cols) {
        struct winsize ws = { .ws_row = (unsigned short)p->console_rows, .ws_col = (unsigned short)p->console_cols };
        if (ioctl(master, TIOCSWINSZ, &ws) < 0)
            fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_SIZE);
    }
    /* The process's user owns its terminal (login, tty, ssh check it). */
    if (fchown(slave, p->uid, (gid_t)-1) < 0)
        fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_PEER);

    if (p->console_path) {
        char path[PATH_MAX];
        size_t n = strlen(p->console_path);
        if (n + 2 > sizeof path) {
            errno = ENAMETOOLONG;
            fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_FILE);
        }
        path[0] = '/';
        memcpy(path + 1, p->console_path, n + 1);
        int target = open_no_links(path, O_PATH | O_NOFOLLOW);
        if (target < 0 || fstat(target, &st) < 0)
            fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_FILE);
        if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
            errno = EEXIST;
            fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_FILE);
        }
        int tree = open_tree(slave, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0 || move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_BIND);
        close(tree);
        close(target);
    }

    static const char name[] = "/dev/ptmx";
    if (skiff_send_with_fd(p->console_fd, name, sizeof name - 1, master) < 0)
        fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_SEND);
    close(master);
    close(p->console_fd);

    /* A session of its own, the pty its controlling terminal, as stdio. */
    if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
        fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_CTTY);
    for (int fd = 0; fd < 3; fd++) {
        if (dup3(slave, fd, 0) < 0)
            fail(SKIFF_STEP_CONSOLE, SKIFF_CONSOLE_CTTY);
    }
    close(slave);
}
