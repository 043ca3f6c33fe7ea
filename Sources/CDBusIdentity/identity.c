/*
 * The uid libdbus gives a D-Bus peer in its EXTERNAL authentication.
 *
 * libdbus sends geteuid(); the peer (dbus-daemon, systemd) checks it
 * against the uid the kernel reports for the socket, in the peer's own
 * user namespace. Root of a user namespace (rootless podman runs its
 * runtime so) is uid 0 to itself and the user's own uid to the user's bus,
 * which then refuses "0". runc authenticates with the bus owner's uid in
 * that case; so does skiff: the skiff binary is linked with
 * --wrap=geteuid, and while skiff_dbus_identity holds a uid (only around
 * opening a connection and its first call; skiff is single-threaded then)
 * geteuid answers with it. Everything else sees the real one.
 */
#include "dbus_identity.h"

#include <unistd.h>

uid_t __real_geteuid(void);

static long identity = -1;

uid_t __wrap_geteuid(void)
{
    return identity >= 0 ? (uid_t)identity : __real_geteuid();
}

void skiff_dbus_identity(long uid)
{
    identity = uid;
}
