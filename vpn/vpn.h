/*
 * vpn.h: PAIA's OpenVPN supervisor. It runs openvpn as a child
 * (spawn mode) or watches one that something else runs, such as
 * systemd's openvpn-client@ (attach mode), always through openvpn's
 * management socket: a state machine with timestamps, restarts with
 * capped backoff, credentials answered from a file, and, once the
 * tunnel is up, checks that the cloud's networks leave through the
 * tunnel device (a netlink route lookup) and that the cloud's
 * endpoints answer a TCP connect within a deadline.
 *
 * It knows nothing of tasks, storage or Kafka: callers get a state, a
 * health flag and the reasons, and decide what waits (docs/vpn.md).
 *
 * @locality: everything runs in the thread of the libevent loop given
 * to vpn_start(); no call blocks (the route lookup is one netlink
 * request answered by the kernel at once; names are resolved with
 * evdns). Children are collected through common/reaper.c, so a
 * program that forks other children must register them there too.
 */
#ifndef PAIA_VPN_H
#define PAIA_VPN_H

#include <stdint.h>
#include <sys/types.h>

struct event_base;

enum vpn_mode {
	VPN_MODE_SPAWN,		/* we start, restart and stop openvpn */
	VPN_MODE_ATTACH		/* something else runs it: watch its socket only */
};

/*
 * What the caller fills; vpn_start() copies it, so it need not outlive
 * the call. Zero means the default for every number.
 */
struct vpn_options {
	enum vpn_mode mode;
	const char *openvpn;	/* spawn: the program (default "openvpn", on PATH) */
	const char *config;	/* spawn: its --config file (required) */
	/*
	 * The management socket (unix, required). Spawn mode passes it as
	 * --management PATH unix; keep it in a folder only the gateway can
	 * write. It must be a socket owned by root or by us.
	 */
	const char *mgmt_socket;
	/*
	 * User name and password, one a line; read whenever openvpn asks
	 * (>PASSWORD:Need 'Auth'), never logged. Mode 0600 or stricter on
	 * "others": a file others can read is refused. NULL: none (spawn
	 * mode then does not ask openvpn to query passwords).
	 */
	const char *auth_file;
	/* The tunnel device; NULL: the one holding openvpn's tunnel address. */
	const char *tun_dev;
	/* Cloud networks that must leave through the tunnel: "10.77.0.0/24, fd00::/64". */
	const char *cidrs;
	/* Cloud endpoints probed with a TCP connect: "s3.cloud:443, 10.77.0.10:9000". */
	const char *endpoints;
	int connect_timeout_s;	/* short of CONNECTED this long: restart (spawn) (60) */
	int backoff_min_ms;	/* restart delays, doubling with jitter (1000) */
	int backoff_max_ms;	/* (60000) */
	int probe_interval_s;	/* checks while CONNECTED (30) */
	int probe_timeout_ms;	/* one endpoint's deadline, name lookup included (5000) */
	int kill_grace_ms;	/* SIGTERM, then SIGKILL this much later (5000) */
	int bytecount_s;	/* openvpn's byte counters every (5) */
};

enum vpn_state {
	VPN_STOPPED,		/* not started, or stopped */
	VPN_STARTING,		/* openvpn started / the socket being reached */
	VPN_CONNECTING,		/* openvpn builds the tunnel (its WAIT, AUTH, ...) */
	VPN_CONNECTED,		/* the tunnel is up (checks may still fail) */
	VPN_RECONNECTING,	/* it was up; openvpn is re-establishing it */
	VPN_BACKOFF,		/* openvpn exited or cannot be reached: waiting to retry */
	VPN_STOPPING		/* shutting down (SIGTERM sent) */
};
const char *vpn_state_name(enum vpn_state);

enum vpn_check_kind { VPN_CHECK_ROUTE, VPN_CHECK_ENDPOINT };
enum vpn_check_result { VPN_CHECK_PENDING, VPN_CHECK_OK, VPN_CHECK_FAILED };
const char *vpn_check_kind_name(enum vpn_check_kind);
const char *vpn_check_result_name(enum vpn_check_result);

struct vpn_check {
	enum vpn_check_kind kind;
	char *target;		/* "10.77.0.0/24", "s3.cloud:443" */
	enum vpn_check_result result;
	/*
	 * Why: "via tun0"; "10.77.0.255 leaves through eth0, not tun0";
	 * "connect to 10.77.0.10:9000: Connection refused"; "no answer
	 * within 5000 ms"; "tunnel not connected".
	 */
	char *reason;
	int64_t checked_ms;	/* wall clock of the result (0: never) */
	int64_t latency_ms;	/* endpoint: connect time; -1 unknown */
};

/*
 * A snapshot, owned by the caller (vpn_view_free). Strings are never
 * NULL ("" when unknown); times are wall-clock milliseconds, 0 never.
 */
struct vpn_view {
	enum vpn_state state;
	const char *state_name;	/* static */
	int64_t since_ms;	/* when the current state began */
	int64_t connected_ms;	/* when the tunnel last became CONNECTED */
	int64_t next_try_ms;	/* BACKOFF: when the next try is due */
	char *ovpn_state;	/* openvpn's own last state: "WAIT", "CONNECTED", ... */
	char *ovpn_detail;	/* its reason: "ping-restart", "auth-failure", ... */
	char *error;		/* the last error, kept until the next one */
	int64_t error_ms;
	unsigned restarts;	/* spawn: openvpn started after the first; attach: tries after the first */
	unsigned auth_failures;
	pid_t pid;		/* openvpn's (spawn: our child; attach: as it says) */
	uint64_t bytes_in, bytes_out;
	char *tun_ip;		/* the tunnel address openvpn reported */
	char *tun_dev;		/* the device checked */
	int healthy;		/* CONNECTED and every check of the last round passed */
	size_t nchecks;
	struct vpn_check *checks; /* the CIDRs first, then the endpoints */
};

enum vpn_event {
	VPN_EVENT_STATE,	/* the state (or its error) changed */
	VPN_EVENT_CHECKS,	/* a round of checks finished */
	VPN_EVENT_HEALTH,	/* healthy flipped */
	VPN_EVENT_STOPPED	/* vpn_stop() finished: no more callbacks */
};
const char *vpn_event_name(enum vpn_event);

struct vpn;
/*
 * Called from the loop. It may call vpn_view_get() and vpn_stop(), but
 * not vpn_free().
 */
typedef void vpn_event_cb(struct vpn *, enum vpn_event, void *arg);

/*
 * Validate the options (every error names the option and the value:
 * "vpn: cidrs: \"10.77.0.0/33\": prefix length above 32") and start:
 * spawn openvpn, or connect to its socket. NULL with *cause on bad
 * options; failures after this point are reported through the view and
 * retried, never returned.
 */
struct vpn *vpn_start(struct event_base *, const struct vpn_options *, vpn_event_cb *, void *arg,
    char **cause);
/*
 * Stop: SIGTERM to openvpn (spawn; SIGKILL after kill_grace_ms), or
 * close the socket (attach). VPN_EVENT_STOPPED follows from the loop,
 * never from inside this call. Calling it again does nothing.
 */
void vpn_stop(struct vpn *);
/*
 * Free at once: a child still running is killed with SIGKILL and
 * collected before this returns. No callback runs.
 */
void vpn_free(struct vpn *);

struct vpn_view *vpn_view_get(const struct vpn *);
void vpn_view_free(struct vpn_view *);

#endif
