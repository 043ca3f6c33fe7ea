/*
 * libdbus-1.a (Debian's libdbus-1-dev) is built with systemd support and
 * refers to two functions of libsystemd, of which Debian ships no static
 * archive: sd_listen_fds and sd_is_socket. libdbus calls them only for a
 * server started by socket activation (`systemd:` listen addresses); skiff
 * is a D-Bus client and never listens. These stand in for them and report
 * what a process that was not socket-activated gets: no sockets.
 */
#include <errno.h>

int sd_listen_fds(int unset_environment);
int sd_is_socket(int fd, int family, int type, int listening);

int sd_listen_fds(int unset_environment)
{
    (void)unset_environment;
    return 0;
}

int sd_is_socket(int fd, int family, int type, int listening)
{
    (void)fd;
    (void)family;
    (void)type;
    (void)listening;
    return -ENOTSOCK;
}
