/*
 * vpn-int.h: what the files of vpn/ share, and what its tests reach:
 * the management protocol (mgmt.c, pure: lines in, events and command
 * bytes out), address and option parsing (addr.c, pure), the route
 * lookup (route.c), the TCP probe (probe.c), rounds of checks built on
 * both (check.c) and the openvpn child (job.c). vpn.c ties them to the
 * loop.
 */
#ifndef PAIA_VPN_INT_H
#define PAIA_VPN_INT_H

#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "vpn.h"

struct event_base;

/* ---- the management protocol (mgmt.c) ---- */

/* Longer lines are dropped whole (openvpn's own are far shorter). */
#define VPN_MGMT_LINE_MAX 8192
/* A multi-line reply keeps at most this much (the rest is counted, not kept). */
#define VPN_MGMT_LIST_MAX 65536

enum vpn_mgmt_type {
	VPN_MGMT_EMPTY,		/* an empty line */
	VPN_MGMT_INFO,		/* >INFO: (the banner, and later notices) */
	VPN_MGMT_STATE,		/* >STATE: */
	VPN_MGMT_BYTECOUNT,	/* >BYTECOUNT: (client) */
	VPN_MGMT_BYTECOUNT_CLI,	/* >BYTECOUNT_CLI: (server) */
	VPN_MGMT_HOLD,		/* >HOLD: */
	VPN_MGMT_LOG,		/* >LOG: */
	VPN_MGMT_PASSWORD,	/* >PASSWORD: (see pw) */
	VPN_MGMT_NEED_OK,	/* >NEED-OK: */
	VPN_MGMT_NEED_STR,	/* >NEED-STR: */
	VPN_MGMT_FATAL,		/* >FATAL: */
	VPN_MGMT_NOTIFY,	/* any other >SOURCE: (ECHO, CLIENT, INFOMSG, ...) */
	VPN_MGMT_SUCCESS,	/* SUCCESS: text */
	VPN_MGMT_ERROR,		/* ERROR: text */
	VPN_MGMT_END,		/* END: the last line of a multi-line reply */
	VPN_MGMT_DATA,		/* a line of a multi-line reply */
	VPN_MGMT_MALFORMED	/* a notification that does not parse (text says why) */
};
const char *vpn_mgmt_type_name(enum vpn_mgmt_type);

enum vpn_mgmt_pw {
	VPN_MGMT_PW_NONE,
	VPN_MGMT_PW_NEED_AUTH,	/* Need 'Auth' username/password */
	VPN_MGMT_PW_NEED_KEY,	/* Need 'Private Key' password */
	VPN_MGMT_PW_NEED_OTHER,	/* Need 'X' ... */
	VPN_MGMT_PW_FAILED,	/* Verification Failed: 'Auth' (or the server's reason) */
	VPN_MGMT_PW_TOKEN,	/* Auth-Token: the token itself is never kept */
	VPN_MGMT_PW_OTHER
};

/* One state line: ">STATE:" or a line of the "state" command's reply. */
struct vpn_mgmt_state {
	int64_t time;
	char name[32];		/* CONNECTED, RECONNECTING, ... */
	char desc[128];		/* SUCCESS, ping-restart, auth-failure, ... */
	char local_ip[64];	/* the tunnel address */
	char remote_ip[64];
	char remote_port[8];
	char local_ipv6[64];
};

/*
 * A parsed line. Text fields are copies, cut to size and made printable
 * (control bytes and invalid UTF-8 become '?'), so they can go to logs
 * and screens as they are.
 */
struct vpn_mgmt_msg {
	enum vpn_mgmt_type type;
	char source[16];	/* NOTIFY: the word after '>' */
	struct vpn_mgmt_state state;	/* STATE */
	uint64_t bytes_in, bytes_out;	/* BYTECOUNT, BYTECOUNT_CLI */
	unsigned long cid;	/* BYTECOUNT_CLI */
	int hold_s;		/* HOLD: seconds openvpn would wait; -1 none */
	enum vpn_mgmt_pw pw;	/* PASSWORD */
	char name[64];		/* PASSWORD, NEED-OK, NEED-STR: the quoted name; LOG: the flags */
	char text[512];		/* the rest (message, reply text, data line) */
};

/* Parse one line (without its "\n"; a trailing "\r" is ignored). Pure. */
void vpn_mgmt_parse_line(const char *line, size_t len, struct vpn_mgmt_msg *);
/* A state line's fields (after ">STATE:"); 0, or -1 if it is not one. */
int vpn_mgmt_parse_state(const char *s, size_t len, struct vpn_mgmt_state *);
/* Does an unterminated buffer hold openvpn's management password prompt? */
int vpn_mgmt_is_prompt(const char *buf, size_t len);
/*
 * A command argument in openvpn's quoting ("a \"b\" \\c"); NULL if it
 * holds a byte a command line cannot carry (control bytes). Caller frees.
 */
char *vpn_mgmt_quote(const char *);

/*
 * The protocol session: commands wait for the >INFO banner (openvpn
 * drops what comes before it), are sent in order and matched to their
 * replies in order: SUCCESS:/ERROR: for a status reply, lines up to
 * END (or an ERROR:) for a list reply. Notifications may arrive at any
 * time, between the lines of a reply too.
 */
enum vpn_mgmt_reply { VPN_MGMT_REPLY_STATUS, VPN_MGMT_REPLY_LIST };
enum vpn_mgmt_ev {
	VPN_MGMT_EV_NONE,	/* nothing to act on (a reply line kept) */
	VPN_MGMT_EV_BANNER,	/* the first >INFO: commands go out now */
	VPN_MGMT_EV_NOTIFY,	/* msg: a notification */
	VPN_MGMT_EV_REPLY,	/* a command's reply is complete */
	VPN_MGMT_EV_UNEXPECTED	/* a line that fits nothing (text says what) */
};
struct vpn_mgmt_event {
	enum vpn_mgmt_ev type;
	struct vpn_mgmt_msg msg; /* the line (for REPLY: its last line) */
	/* REPLY: */
	int tag;		/* the command's tag */
	const char *command;	/* the command as it may be logged */
	int ok;			/* SUCCESS:, or a list ended by END */
	const char *text;	/* the SUCCESS:/ERROR: text, or the list's lines ("\n" each) */
	size_t nlines;
	int truncated;		/* the list outgrew VPN_MGMT_LIST_MAX */
};
struct vpn_mgmt;
struct vpn_mgmt *vpn_mgmt_new(void);
void vpn_mgmt_free(struct vpn_mgmt *);
/*
 * Queue a command (no "\n"; -1 if it holds a control byte). secret: it
 * carries a credential: logs see only its first word. tag comes back
 * with the reply.
 */
int vpn_mgmt_command(struct vpn_mgmt *, const char *cmd, enum vpn_mgmt_reply, int tag,
    int secret);
/* Feed one line (without "\n"). ev's pointers live until the next call. */
void vpn_mgmt_feed(struct vpn_mgmt *, const char *line, size_t len, struct vpn_mgmt_event *ev);
/* Bytes to send; vpn_mgmt_sent() drops n of them (and wipes them). */
const char *vpn_mgmt_output(const struct vpn_mgmt *, size_t *len);
void vpn_mgmt_sent(struct vpn_mgmt *, size_t n);
int vpn_mgmt_ready(const struct vpn_mgmt *);
size_t vpn_mgmt_waiting(const struct vpn_mgmt *); /* commands sent, no reply yet */

/*
 * The supervisor's state from openvpn's: CONNECTED and RECONNECTING map
 * across; EXITING leaves the state as it is (the process's end decides);
 * every other state is CONNECTING, or RECONNECTING when the tunnel was
 * up (CONNECTED or RECONNECTING) before. Pure.
 */
enum vpn_state vpn_state_next(enum vpn_state cur, const char *ovpn_state);

/* ---- addresses and options (addr.c) ---- */

struct vpn_cidr {
	int family;		/* AF_INET, AF_INET6 */
	unsigned char addr[16];	/* the network (host bits cleared) */
	unsigned prefix;
	char text[64];		/* canonical: "10.77.0.0/24" */
};
/* "10.77.0.0/24", "fd00::/64", "10.77.0.10" (/32): 0, or -1 with *cause. */
int vpn_cidr_parse(const char *s, struct vpn_cidr *, char **cause);
/*
 * The first (last = 0) or last (last = 1) host of the network (not the
 * network's own address, not IPv4's broadcast, unless the network is
 * that small), in out and as text.
 */
void vpn_cidr_edge(const struct vpn_cidr *, int last, unsigned char out[16], char *text,
    size_t len);
/* "host:port" or "[v6]:port": 0, or -1 with *cause. Caller frees host. */
int vpn_endpoint_parse(const char *s, char **host, unsigned *port, char **cause);
/*
 * Split a list on commas and blanks into a NULL-terminated array
 * (caller frees with vpn_list_free); empty items are skipped.
 */
char **vpn_list_split(const char *s, size_t *n);
void vpn_list_free(char **);

/* ---- routes (route.c) ---- */

/*
 * The device the kernel sends addr (family, 4 or 16 bytes) through:
 * 0 with dev filled, or -1 with *cause ("no route to host",
 * "unreachable (blackhole route)").
 */
int vpn_route_dev(int family, const unsigned char *addr, char dev[IF_NAMESIZE], char **cause);
/* The device holding the local address ip: 0, or -1 with *cause. */
int vpn_route_dev_of_addr(const char *ip, char dev[IF_NAMESIZE], char **cause);

/* ---- TCP probes (probe.c) ---- */

struct vpn_probe;
struct evdns_base;
/* ok: connected; reason: "connected in 3 ms", "connect to ...: Connection refused". */
typedef void vpn_probe_cb(int ok, const char *reason, int64_t latency_ms, void *arg);
/*
 * Resolve host (evdns, when not numeric; dns may be NULL only for
 * numeric hosts) and connect to port within timeout_ms, without
 * blocking. cb runs once, from the loop, never from inside this call.
 */
struct vpn_probe *vpn_probe_start(struct event_base *, struct evdns_base *dns, const char *host,
    unsigned port, int timeout_ms, vpn_probe_cb *, void *arg);
/* Cancel: cb is not called. */
void vpn_probe_cancel(struct vpn_probe *);

/* ---- rounds of checks (check.c) ---- */

struct vpn_checks;
typedef void vpn_checks_done_cb(void *arg);
/*
 * Checks for the CIDRs and endpoints (lists as in struct vpn_options);
 * NULL with *cause ("vpn: cidrs: ...") when one does not parse. Every
 * check starts pending ("tunnel not connected").
 */
struct vpn_checks *vpn_checks_new(struct event_base *, const char *cidrs, const char *endpoints,
    int timeout_ms, vpn_checks_done_cb *, void *arg, char **cause);
void vpn_checks_free(struct vpn_checks *);
/*
 * A round against the tunnel device dev (NULL or "": unknown, the route
 * checks fail saying so). done runs when every check has its result:
 * from the loop, or from inside this call when there is no endpoint. A
 * round under way is not started again.
 */
void vpn_checks_run(struct vpn_checks *, const char *dev);
/* Stop a round (done is not called) and make every check pending with why. */
void vpn_checks_reset(struct vpn_checks *, const char *why);
int vpn_checks_passed(const struct vpn_checks *);	/* every check OK */
size_t vpn_checks_count(const struct vpn_checks *);
const struct vpn_check *vpn_checks_get(const struct vpn_checks *, size_t);

/* ---- the openvpn child (job.c) ---- */

struct vpn_job;
/*
 * status as from waitpid (-1: collected elsewhere, unknown); tail: the
 * line openvpn printed that best explains its end ("" if none). The job
 * is freed when the callback returns.
 */
typedef void vpn_job_exit_cb(int status, const char *tail, void *arg);
/*
 * Fork and exec argv (argv[0] looked up on PATH) in a process group of
 * its own, stdout and stderr captured (each line logged at debug, the
 * last kept for the exit reason). NULL with *cause if fork fails; a
 * failed exec is an exit (status 127, the reason says why).
 */
struct vpn_job *vpn_job_start(struct event_base *, char *const argv[], vpn_job_exit_cb *, void *arg,
    char **cause);
pid_t vpn_job_pid(const struct vpn_job *);
/* SIGTERM now, SIGKILL to its group after grace_ms; the exit callback follows. */
void vpn_job_stop(struct vpn_job *, int grace_ms);
/* SIGKILL, collect, free; no callback. */
void vpn_job_free(struct vpn_job *);
/* "exited with status 1", "killed by signal 9", plus openvpn's last error line. */
char *vpn_job_describe(int status, const char *tail);

#endif
