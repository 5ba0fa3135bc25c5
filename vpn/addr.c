/*
 * addr.c: the supervisor's options as text: CIDRs ("10.77.0.0/24",
 * "fd00::/64"), endpoints ("host:port", "[v6]:port") and the comma or
 * blank separated lists that hold them. Pure functions; every error
 * names the value and what is wrong with it.
 */
#include "config.h"
#include "vpn-int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int
vpn_cidr_parse(const char *s, struct vpn_cidr *c, char **cause)
{
	char addr[INET6_ADDRSTRLEN + 1], text[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned max, i;
	long long prefix;

	memset(c, 0, sizeof *c);
	if (n == 0 || n >= sizeof addr) {
		xasprintf(cause, "\"%s\": not an address/prefix", s);
		return -1;
	}
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		xasprintf(cause, "\"%s\": \"%s\" is not an IPv4 or IPv6 address", s, addr);
		return -1;
	}
	prefix = max;
	if (slash != NULL && util_parse_int(slash + 1, 0, 1000, &prefix) != 0) {
		xasprintf(cause, "\"%s\": the prefix length is not a number", s);
		return -1;
	}
	if (prefix > max) {
		xasprintf(cause, "\"%s\": prefix length above %u", s, max);
		return -1;
	}
	c->prefix = (unsigned)prefix;
	/* Clear the host bits: "10.77.0.9/24" means 10.77.0.0/24. */
	for (i = 0; i < max / 8; i++) {
		if (i * 8 >= c->prefix)
			c->addr[i] = 0;
		else if (i * 8 + 8 > c->prefix)
			c->addr[i] &= (unsigned char)(0xff << (8 - (c->prefix - i * 8)));
	}
	inet_ntop(c->family, c->addr, text, sizeof text);
	snprintf(c->text, sizeof c->text, "%s/%u", text, c->prefix);
	return 0;
}

/* Add (+1) or subtract (-1) one to a big-endian address. */
static void
addr_step(unsigned char *a, size_t len, int d)
{
	size_t i = len;

	while (i-- > 0) {
		a[i] = (unsigned char)(a[i] + d);
		if ((d > 0 && a[i] != 0) || (d < 0 && a[i] != 0xff))
			break;
	}
}

void
vpn_cidr_edge(const struct vpn_cidr *c, int last, unsigned char out[16], char *text, size_t len)
{
	unsigned max = c->family == AF_INET ? 32 : 128, i;

	memcpy(out, c->addr, 16);
	if (last)
		for (i = 0; i < max / 8; i++) {
			if (i * 8 >= c->prefix)
				out[i] = 0xff;
			else if (i * 8 + 8 > c->prefix)
				out[i] |= (unsigned char)(0xff >> (c->prefix - i * 8));
		}
	/*
	 * Hosts, not the network's own address (IPv6's subnet-router anycast)
	 * nor IPv4's broadcast: those may meet local or broadcast routes.
	 */
	if (c->prefix + 2 <= max) {
		if (!last)
			addr_step(out, max / 8, 1);
		else if (c->family == AF_INET)
			addr_step(out, max / 8, -1);
	}
	inet_ntop(c->family, out, text, (socklen_t)len);
}

int
vpn_endpoint_parse(const char *s, char **host, unsigned *port, char **cause)
{
	const char *colon, *h = s, *end;
	long long p;
	size_t i, n;

	*host = NULL;
	if (*s == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != ':') {
			xasprintf(cause, "\"%s\": expected [address]:port", s);
			return -1;
		}
		h = s + 1;
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || strchr(s, ':') != colon) {
			xasprintf(cause, "\"%s\": expected host:port (an IPv6 address in brackets)",
			    s);
			return -1;
		}
		end = colon;
	}
	n = (size_t)(end - h);
	if (n == 0 || n > 253) {
		xasprintf(cause, "\"%s\": no host name", s);
		return -1;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)h[i] <= ' ' || (unsigned char)h[i] >= 0x7f || h[i] == '/' ||
		    h[i] == '@') {
			xasprintf(cause, "\"%s\": the host holds a character a host name cannot",
			    s);
			return -1;
		}
	if (util_parse_int(colon + 1, 1, 65535, &p) != 0) {
		xasprintf(cause, "\"%s\": the port is not a number from 1 to 65535", s);
		return -1;
	}
	*host = xstrndup(h, n);
	*port = (unsigned)p;
	return 0;
}

char **
vpn_list_split(const char *s, size_t *np)
{
	char **v = xcalloc(1, sizeof *v);
	size_t n = 0, len;

	while (s != NULL && *s != '\0') {
		s += strspn(s, ", \t\n");
		len = strcspn(s, ", \t\n");
		if (len == 0)
			continue;
		v = xreallocarray(v, n + 2, sizeof *v);
		v[n++] = xstrndup(s, len);
		v[n] = NULL;
		s += len;
	}
	if (np != NULL)
		*np = n;
	return v;
}

void
vpn_list_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}
