/*
 * route.c: which device the kernel would send an address through (one
 * RTM_GETROUTE request on a netlink socket, as "ip route get" does), and
 * which device holds a local address (getifaddrs). The kernel answers a
 * route request while sending it, so the receive does not wait; it is
 * still bounded (non-blocking, then a poll of at most a second) so a
 * strange kernel cannot hold the loop.
 *
 * It only looks: it never adds or changes a route.
 */
#include "config.h"
#include "vpn-int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char *
route_type_name(unsigned char t)
{
	switch (t) {
	case RTN_BLACKHOLE:
		return "a blackhole route";
	case RTN_UNREACHABLE:
		return "an unreachable route";
	case RTN_PROHIBIT:
		return "a prohibit route";
	case RTN_LOCAL:
		return "a local address";
	case RTN_BROADCAST:
		return "a broadcast address";
	case RTN_MULTICAST:
		return "a multicast address";
	default:
		return "a route of an unexpected type";
	}
}

int
vpn_route_dev(int family, const unsigned char *addr, char dev[IF_NAMESIZE], char **cause)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[64];
	} req;
	union {
		struct nlmsghdr nh;
		char buf[8192];
	} resp;
	struct sockaddr_nl sa;
	struct nlmsghdr *nh;
	struct rtmsg *rt;
	struct rtattr *rta;
	struct pollfd pfd;
	char text[INET6_ADDRSTRLEN];
	size_t alen = family == AF_INET ? 4 : 16;
	int fd, oif = 0, len, rlen;
	ssize_t n;

	inet_ntop(family, addr, text, sizeof text);
	memset(&req, 0, sizeof req);
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.rt);
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.rt.rtm_family = (unsigned char)family;
	req.rt.rtm_dst_len = (unsigned char)(alen * 8);
	rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
	rta->rta_type = RTA_DST;
	rta->rta_len = (unsigned short)RTA_LENGTH(alen);
	memcpy(RTA_DATA(rta), addr, alen);
	req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);

	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    NETLINK_ROUTE)) < 0) {
		xasprintf(cause, "netlink socket: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.nl_family = AF_NETLINK;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof sa) < 0) {
		xasprintf(cause, "route lookup for %s: netlink send: %s", text, strerror(errno));
		goto fail;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	while ((n = recv(fd, &resp, sizeof resp, 0)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || poll(&pfd, 1, 1000) != 1) {
			xasprintf(cause, "route lookup for %s: no answer from netlink", text);
			goto fail;
		}
	}
	len = (int)n;
	for (nh = &resp.nh; NLMSG_OK(nh, (unsigned)len); nh = NLMSG_NEXT(nh, len)) {
		if (nh->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(nh);

			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof *e) || e->error == 0)
				continue;
			xasprintf(cause, "no route to %s: %s", text, strerror(-e->error));
			goto fail;
		}
		if (nh->nlmsg_type != RTM_NEWROUTE)
			continue;
		rt = NLMSG_DATA(nh);
		if (rt->rtm_type != RTN_UNICAST) {
			xasprintf(cause, "%s meets %s", text, route_type_name(rt->rtm_type));
			goto fail;
		}
		rlen = (int)RTM_PAYLOAD(nh);
		for (rta = RTM_RTA(rt); RTA_OK(rta, rlen); rta = RTA_NEXT(rta, rlen))
			if (rta->rta_type == RTA_OIF && RTA_PAYLOAD(rta) >= sizeof(int))
				memcpy(&oif, RTA_DATA(rta), sizeof oif);
		break;
	}
	close(fd);
	if (oif == 0) {
		xasprintf(cause, "route lookup for %s: no output device in the answer", text);
		return -1;
	}
	if (if_indextoname((unsigned)oif, dev) == NULL) {
		xasprintf(cause, "route lookup for %s: device %d: %s", text, oif, strerror(errno));
		return -1;
	}
	return 0;
fail:
	close(fd);
	return -1;
}

int
vpn_route_dev_of_addr(const char *ip, char dev[IF_NAMESIZE], char **cause)
{
	unsigned char want[16], have[16];
	struct ifaddrs *ifa, *i;
	int family = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;
	size_t alen = family == AF_INET ? 4 : 16;

	if (inet_pton(family, ip, want) != 1) {
		xasprintf(cause, "tunnel address \"%s\" is not an IP address", ip);
		return -1;
	}
	if (getifaddrs(&ifa) != 0) {
		xasprintf(cause, "getifaddrs: %s", strerror(errno));
		return -1;
	}
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family)
			continue;
		if (family == AF_INET)
			memcpy(have, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, 4);
		else
			memcpy(have, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, 16);
		if (memcmp(have, want, alen) == 0) {
			snprintf(dev, IF_NAMESIZE, "%s", i->ifa_name);
			freeifaddrs(ifa);
			return 0;
		}
	}
	freeifaddrs(ifa);
	xasprintf(cause, "no device holds the tunnel address %s", ip);
	return -1;
}
