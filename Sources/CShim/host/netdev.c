/*
 * Parent side: linux.netDevices. A host interface moves into the
 * container's network namespace under the name asked for (RTM_NEWLINK with
 * IFLA_NET_NS_FD and IFLA_IFNAME: the kernel takes it down, moves and
 * renames it in one step), and back out at delete.
 */
#include "internal.h"

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

struct link_request {
    struct nlmsghdr n;
    struct ifinfomsg i;
    char attrs[128];
};

static void add_attr(struct link_request *r, unsigned short type, const void *data, size_t len)
{
    struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->n.nlmsg_len));
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(a), data, len);
    r->n.nlmsg_len = NLMSG_ALIGN(r->n.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

int skiff_link_move(const char *name, const char *newname, int netns_fd)
{
    if (strlen(name) >= IFNAMSIZ || (newname && strlen(newname) >= IFNAMSIZ))
        return -ENAMETOOLONG;
    unsigned int index = if_nametoindex(name);
    if (index == 0)
        return -errno;
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0)
        return -errno;
    struct link_request r;
    memset(&r, 0, sizeof r);
    r.n.nlmsg_len = NLMSG_LENGTH(sizeof r.i);
    r.n.nlmsg_type = RTM_NEWLINK;
    r.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    r.n.nlmsg_seq = 1;
    r.i.ifi_family = AF_UNSPEC;
    r.i.ifi_index = (int)index;
    add_attr(&r, IFLA_NET_NS_FD, &netns_fd, sizeof netns_fd);
    if (newname)
        add_attr(&r, IFLA_IFNAME, newname, strlen(newname) + 1);
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    int err = 0;
    if (sendto(s, &r, r.n.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        err = -errno;
    } else {
        char reply[512];
        ssize_t n;
        do {
            n = recv(s, reply, sizeof reply, 0);
        } while (n < 0 && errno == EINTR);
        struct nlmsghdr *h = (struct nlmsghdr *)reply;
        if (n < 0)
            err = -errno;
        else if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) || h->nlmsg_type != NLMSG_ERROR)
            err = -EPROTO;
        else
            err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
    }
    close(s);
    return err;
}
