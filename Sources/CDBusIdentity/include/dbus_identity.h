#ifndef SKIFF_DBUS_IDENTITY_H
#define SKIFF_DBUS_IDENTITY_H

/* The uid to authenticate D-Bus connections with from now on, or -1 for
 * the real effective uid (see identity.c). */
void skiff_dbus_identity(long uid);

#endif
