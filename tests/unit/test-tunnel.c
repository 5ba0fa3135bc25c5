/*
 * test-tunnel.c: the daemon's side of the VPN supervisor
 * (gateway/tunnel.c) that needs no openvpn: [vpn] of
 * paia-gateway.conf(5) into struct vpn_options (defaults, the socket's
 * default place, every refusal naming the key), /healthz's verdict on a
 * tunnel that has been down for a while, and the names proto/ gives
 * vpn/'s states (one list each, kept equal here).
 */
#include "config.h"
#include "gateway.h"
#include "options.h"
#include "vpn.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct config *
conf_with(const char *const *kv)
{
	struct config *c = config_new(options_schema, options_passthrough);
	char *cause = NULL;

	for (; kv[0] != NULL; kv += 2) {
		const char *dot = strchr(kv[0], '.');
		char *section = xstrndup(kv[0], (size_t)(dot - kv[0]));

		if (config_set(c, section, dot + 1, kv[1], &cause) != 0)
			fail_msg("%s: %s", kv[0], cause);
		free(section);
	}
	return c;
}

static void
test_options(void **state)
{
	static const char *const off[] = { NULL };
	static const char *const spawn[] = {
		"vpn.mode", "spawn", "vpn.config", "/etc/openvpn/client/paia.conf",
		"vpn.auth_file", "/etc/paia/vpn.auth", "vpn.cidrs", "10.77.0.0/24",
		"vpn.endpoints", "10.77.0.10:9000", "vpn.probe_interval_s", "5", NULL
	};
	static const char *const attach[] = {
		"vpn.mode", "attach", "vpn.management_socket", "/run/openvpn-client/paia.sock", NULL
	};
	struct vpn_options o;
	struct config *c;
	char *sock, *cause = NULL;

	c = conf_with(off);
	assert_int_equal(tunnel_options(c, "/var/lib/paia", &o, &sock, &cause), 0);
	assert_null(sock);
	config_free(c);

	c = conf_with(spawn);
	assert_int_equal(tunnel_options(c, "/var/lib/paia", &o, &sock, &cause), 1);
	assert_int_equal(o.mode, VPN_MODE_SPAWN);
	assert_string_equal(o.openvpn, "openvpn");
	assert_string_equal(o.config, "/etc/openvpn/client/paia.conf");
	/* The socket in a folder of the gateway's own. */
	assert_string_equal(o.mgmt_socket, "/var/lib/paia/vpn/openvpn.sock");
	assert_string_equal(o.auth_file, "/etc/paia/vpn.auth");
	assert_null(o.tun_dev);
	assert_string_equal(o.cidrs, "10.77.0.0/24");
	assert_string_equal(o.endpoints, "10.77.0.10:9000");
	assert_int_equal(o.probe_interval_s, 5);
	assert_int_equal(o.connect_timeout_s, 60);
	assert_int_equal(o.backoff_min_ms, 1000);
	assert_int_equal(o.backoff_max_ms, 60000);
	free(sock);
	config_free(c);

	c = conf_with(attach);
	assert_int_equal(tunnel_options(c, "/var/lib/paia", &o, &sock, &cause), 1);
	assert_int_equal(o.mode, VPN_MODE_ATTACH);
	assert_string_equal(o.mgmt_socket, "/run/openvpn-client/paia.sock");
	assert_null(o.config);
	assert_null(o.auth_file);
	free(sock);
	config_free(c);
}

static void
test_options_refused(void **state)
{
	static const char *const noconf[] = { "vpn.mode", "spawn", NULL };
	static const char *const nosock[] = { "vpn.mode", "attach", NULL };
	static const char *const backoff[] = {
		"vpn.mode", "spawn", "vpn.config", "/c", "vpn.backoff_min_ms", "5000",
		"vpn.backoff_max_ms", "1000", NULL
	};
	struct vpn_options o;
	struct config *c;
	char *sock, *cause = NULL;

	c = conf_with(noconf);
	assert_int_equal(tunnel_options(c, "/s", &o, &sock, &cause), -1);
	assert_non_null(strstr(cause, "vpn.config"));
	free(cause);
	config_free(c);
	c = conf_with(nosock);
	assert_int_equal(tunnel_options(c, "/s", &o, &sock, &cause), -1);
	assert_non_null(strstr(cause, "vpn.management_socket"));
	free(cause);
	config_free(c);
	c = conf_with(backoff);
	assert_int_equal(tunnel_options(c, "/s", &o, &sock, &cause), -1);
	assert_non_null(strstr(cause, "vpn.backoff_min_ms (5000) is above vpn.backoff_max_ms (1000)"));
	assert_null(sock);
	free(cause);
	config_free(c);

	/* The schema names a bad mode or value itself. */
	c = config_new(options_schema, options_passthrough);
	assert_int_equal(config_set(c, "vpn", "mode", "on", &cause), -1);
	assert_non_null(strstr(cause, "off|spawn|attach"));
	free(cause);
	assert_int_equal(config_set(c, "vpn", "pause_intake_when_down", "maybe", &cause), -1);
	free(cause);
	config_free(c);
}

static void
test_verdict(void **state)
{
	struct tunnel_health h = { 0, 1000000, 60, "the tunnel is RECONNECTING (openvpn: "
	    "RECONNECTING ping-restart)" };
	char *why = NULL;

	/* Down 30 s of the 60 allowed: still healthy enough. */
	assert_int_equal(tunnel_verdict(&h, 1000000 + 30000, &why), 1);
	assert_null(why);
	/* Down 61 s: unhealthy, saying how long, the setting and why. */
	assert_int_equal(tunnel_verdict(&h, 1000000 + 61000, &why), 0);
	assert_non_null(strstr(why, "not healthy for 61 s, over vpn.unhealthy_after_s (60)"));
	assert_non_null(strstr(why, "ping-restart"));
	free(why);
	/* Healthy, or the check turned off: never unhealthy. */
	h.healthy = 1;
	assert_int_equal(tunnel_verdict(&h, 1000000 + 3600000, &why), 1);
	h.healthy = 0;
	h.after_s = 0;
	assert_int_equal(tunnel_verdict(&h, 1000000 + 3600000, &why), 1);
	assert_null(why);
}

static void
test_state_names(void **state)
{
	enum proto_vpn_state p;
	int s;

	/* Every state vpn/ has, proto/ reads by the same name and order. */
	for (s = VPN_STOPPED; s <= VPN_STOPPING; s++) {
		assert_int_equal(proto_vpn_state_parse(vpn_state_name((enum vpn_state)s), &p), 0);
		assert_int_equal((int)p, s);
	}
	assert_int_equal(VPN_STOPPING + 1, PROTO_VPN_NSTATES);
	assert_string_equal(vpn_check_kind_name(VPN_CHECK_ROUTE), proto_vpn_kind_name(PROTO_VPN_ROUTE));
	assert_string_equal(vpn_check_kind_name(VPN_CHECK_ENDPOINT),
	    proto_vpn_kind_name(PROTO_VPN_ENDPOINT));
	assert_string_equal(vpn_check_result_name(VPN_CHECK_PENDING),
	    proto_vpn_result_name(PROTO_VPN_PENDING));
	assert_string_equal(vpn_check_result_name(VPN_CHECK_OK), proto_vpn_result_name(PROTO_VPN_OK));
	assert_string_equal(vpn_check_result_name(VPN_CHECK_FAILED),
	    proto_vpn_result_name(PROTO_VPN_FAILED));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_options_refused),
		cmocka_unit_test(test_verdict),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
