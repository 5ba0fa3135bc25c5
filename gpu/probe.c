/*
 * probe.c: the prober. Every interval it starts a round on each node that
 * is not still busy with the last one: one exec of paia-gpu-probe over
 * the node's SSH session (kept between rounds; made anew when missing or
 * dead), its answer cut at answer_cap, parsed into a report. A round
 * ends within timeout_ms whatever the node does (connect, handshake and
 * command share that deadline, enforced by common/ssh.c); it never
 * waits for another node, and the loop never waits for it.
 *
 * A node keeps its last good report with the time it came; when a round
 * fails the report stays and the reason is kept (stale). A kept session
 * the node closed meanwhile (sshd restarted) gets one new session within
 * the same round, if time is left.
 *
 * It does not decide what a stale node means, nor read tasks or pods:
 * the round callback hands the node to the caller.
 */
#include "config.h"
#include "gpu.h"

#include <sys/random.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "common.h"
#include "probe-script.h"

#define GPU_INTERVAL_MS 5000
#define GPU_TIMEOUT_MS 4000
#define GPU_ANSWER_CAP (1024 * 1024)

struct gpu_pnode {
	struct gpu_node pub;
	struct gpu_prober *p;
	char *name, *host, *user, *key_file;
	int port;
	struct ssh_session *ssh;
	struct ssh_channel *exec;
	struct gpu_report *report;
	char *stale;
	char nonce[17];
	int64_t started;	/* monotonic ms */
	int reused;		/* the round's session was there before it */
	int retried;
	int removed;
};

struct gpu_prober {
	struct event_base *base;
	char *known_hosts, *proc_root, *display;
	int accept_new, interval_ms, timeout_ms;
	size_t cap;
	struct evdns_base *dns;
	struct gpu_pnode **nodes;
	size_t nnodes;
	struct event *tick;
	gpu_round_cb *cb;
	void *arg;
	int in_cb;
	int free_wanted;
};

static void gpu_node_exec(struct gpu_pnode *);

const char *
gpu_probe_script(void)
{
	return gpu_probe_script_text;
}

/* 'text' for sh, with ' written as '\''. */
static char *
gpu_shell_quote(const char *s)
{
	size_t n = 2, i;
	char *out, *o;

	for (i = 0; s[i] != '\0'; i++)
		n += s[i] == '\'' ? 4 : 1;
	o = out = xmalloc(n + 1);
	*o++ = '\'';
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else
			*o++ = s[i];
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}

char *
gpu_probe_command(const char *nonce, int seconds, const char *proc_root, const char *display)
{
	char *script = gpu_shell_quote(gpu_probe_script_text), *proc, *disp, *cmd;

	proc = gpu_shell_quote(proc_root != NULL ? proc_root : "/proc");
	disp = gpu_shell_quote(display != NULL ? display : ":0");
	xasprintf(&cmd, "sh -c %s paia-gpu-probe %s %d %s %s", script, nonce,
	    seconds > 0 ? seconds : 1, proc, disp);
	free(script);
	free(proc);
	free(disp);
	return cmd;
}

int64_t
gpu_node_age_ms(const struct gpu_node *n, int64_t now_mono_ms)
{
	if (n->report == NULL)
		return -1;
	return now_mono_ms - n->report_mono_ms;
}

static void
gpu_nonce(char out[17])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[8];
	size_t i;

	if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
		fatalx("getrandom failed");
	for (i = 0; i < sizeof b; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[16] = '\0';
}

static void
gpu_pnode_free(struct gpu_pnode *nd)
{
	ssh_channel_free(nd->exec);
	ssh_session_free(nd->ssh);
	gpu_report_free(nd->report);
	free(nd->stale);
	free(nd->name);
	free(nd->host);
	free(nd->user);
	free(nd->key_file);
	free(nd);
}

static void
gpu_prober_destroy(struct gpu_prober *p)
{
	size_t i;

	for (i = 0; i < p->nnodes; i++)
		gpu_pnode_free(p->nodes[i]);
	free(p->nodes);
	if (p->tick != NULL)
		event_free(p->tick);
	if (p->dns != NULL)
		evdns_base_free(p->dns, 1);
	free(p->known_hosts);
	free(p->proc_root);
	free(p->display);
	free(p);
}

/* After a callback: do what it asked for (free, remove). 1 if p is gone. */
static int
gpu_prober_settle(struct gpu_prober *p)
{
	size_t i = 0;

	if (p->in_cb > 0)
		return 0;
	if (p->free_wanted) {
		gpu_prober_destroy(p);
		return 1;
	}
	while (i < p->nnodes) {
		if (p->nodes[i]->removed) {
			gpu_pnode_free(p->nodes[i]);
			memmove(&p->nodes[i], &p->nodes[i + 1],
			    (p->nnodes - i - 1) * sizeof *p->nodes);
			p->nnodes--;
		} else
			i++;
	}
	return 0;
}

/* The round is over: keep the report or the reason, tell the caller. */
static void
gpu_node_end(struct gpu_pnode *nd, struct gpu_report *r, const char *why)
{
	struct gpu_prober *p = nd->p;
	int64_t now = util_mono_ms();

	nd->pub.round_ms = now - nd->started;
	nd->pub.busy = 0;
	if (r != NULL) {
		gpu_report_free(nd->report);
		nd->report = r;
		nd->pub.report = r;
		nd->pub.report_ms = util_now_ms();
		nd->pub.report_mono_ms = now;
		free(nd->stale);
		nd->stale = NULL;
		nd->pub.rounds_ok++;
	} else {
		free(nd->stale);
		nd->stale = xstrdup(why);
		nd->pub.rounds_failed++;
		log_debug("gpu: node stale", "node=%s reason=%s", log_q(nd->name), log_q(why));
	}
	nd->pub.stale = nd->stale;
	if (p->cb != NULL && !nd->removed && !p->free_wanted) {
		p->in_cb++;
		p->cb(p, &nd->pub, p->arg);
		p->in_cb--;
	}
	gpu_prober_settle(p);
}

static void
gpu_session_cb(struct ssh_session *s, const char *error, void *arg)
{
	struct gpu_pnode *nd = arg;

	if (error == NULL)
		return;
	/*
	 * Died: a round in flight heard it from its exec already. Between
	 * rounds, the next round connects anew.
	 */
	if (nd->ssh == s && nd->exec == NULL) {
		log_debug("gpu: session closed", "node=%s reason=%s", log_q(nd->name),
		    log_q(error));
		ssh_session_free(s);
		nd->ssh = NULL;
	}
}

static void
gpu_exec_cb(struct ssh_exec_result *res, const char *error, void *arg)
{
	struct gpu_pnode *nd = arg;
	struct gpu_prober *p = nd->p;
	struct gpu_report *r;
	char *cause = NULL, *msg;
	int64_t left;

	nd->exec = NULL;
	if (error != NULL) {
		left = p->timeout_ms - (util_mono_ms() - nd->started);
		if (nd->ssh != NULL && ssh_session_error(nd->ssh) != NULL) {
			/* The connection is gone; a kept one may just be old. */
			ssh_session_free(nd->ssh);
			nd->ssh = NULL;
			if (nd->reused && !nd->retried && res->out_len == 0 &&
			    left > p->timeout_ms / 4) {
				nd->retried = 1;
				gpu_node_exec(nd);
				return;
			}
		}
		gpu_node_end(nd, NULL, error);
		return;
	}
	if (res->exit_status != 0 && res->out_len == 0) {
		xasprintf(&msg, "%s: the probe exited %d%s%s%s", ssh_session_name(nd->ssh),
		    res->exit_status, res->exit_signal != NULL ? " by SIG" : "",
		    res->exit_signal != NULL ? res->exit_signal : "",
		    res->err_len > 0 ? ": " : "");
		if (res->err_len > 0) {
			char *t;

			xasprintf(&t, "%s%.*s", msg, (int)strcspn(res->err, "\n"), res->err);
			free(msg);
			msg = t;
		}
		gpu_node_end(nd, NULL, msg);
		free(msg);
		return;
	}
	if ((r = gpu_answer_parse(res->out, res->out_len, nd->nonce, &cause)) == NULL) {
		xasprintf(&msg, "%s: probe answer: %s", ssh_session_name(nd->ssh), cause);
		free(cause);
		gpu_node_end(nd, NULL, msg);
		free(msg);
		return;
	}
	gpu_node_end(nd, r, NULL);
}

/* Run the probe on the node's session, connecting first if needed. */
static void
gpu_node_exec(struct gpu_pnode *nd)
{
	struct gpu_prober *p = nd->p;
	struct ssh_options o;
	int64_t left = p->timeout_ms - (util_mono_ms() - nd->started);
	char *cmd;

	if (left < 1)
		left = 1;
	nd->reused = nd->ssh != NULL;
	if (nd->ssh == NULL) {
		memset(&o, 0, sizeof o);
		o.host = nd->host;
		o.port = nd->port;
		o.user = nd->user;
		o.key_file = nd->key_file;
		o.known_hosts = p->known_hosts;
		o.accept_new = p->accept_new;
		o.connect_timeout_ms = (int)left;
		o.dns = p->dns;
		nd->ssh = ssh_session_new(p->base, &o, gpu_session_cb, nd);
	}
	gpu_nonce(nd->nonce);
	/* Each nvidia-smi gets the round's time, so none outlives it on the node. */
	cmd = gpu_probe_command(nd->nonce, (int)((p->timeout_ms + 999) / 1000), p->proc_root,
	    p->display);
	nd->exec = ssh_exec(nd->ssh, cmd, p->cap, (int)left, gpu_exec_cb, nd);
	free(cmd);
	if (nd->exec == NULL) {
		char *why = xstrdup(ssh_session_error(nd->ssh) != NULL ?
		    ssh_session_error(nd->ssh) : "the SSH session is closed");

		ssh_session_free(nd->ssh);
		nd->ssh = NULL;
		if (nd->reused && !nd->retried) {
			free(why);
			nd->retried = 1;
			gpu_node_exec(nd);
			return;
		}
		gpu_node_end(nd, NULL, why);
		free(why);
	}
}

static void
gpu_node_round(struct gpu_pnode *nd)
{
	if (nd->pub.busy || nd->removed)
		return;
	nd->pub.busy = 1;
	nd->retried = 0;
	nd->started = util_mono_ms();
	gpu_node_exec(nd);
}

void
gpu_prober_round(struct gpu_prober *p)
{
	size_t i, n = p->nnodes;

	p->in_cb++;
	for (i = 0; i < n && i < p->nnodes; i++)
		gpu_node_round(p->nodes[i]);
	p->in_cb--;
	gpu_prober_settle(p);
}

static void
gpu_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	gpu_prober_round(arg);
}

struct gpu_prober *
gpu_prober_new(struct event_base *base, const struct gpu_options *o, gpu_round_cb *cb,
    void *arg, char **cause)
{
	struct gpu_prober *p;

	if (o->known_hosts == NULL || *o->known_hosts == '\0') {
		xasprintf(cause, "gpu: a known_hosts file is required");
		return NULL;
	}
	if (o->interval_ms < 0 || o->timeout_ms < 0) {
		xasprintf(cause, "gpu: interval and timeout must not be negative");
		return NULL;
	}
	if (o->answer_cap != 0 && o->answer_cap < 4096) {
		xasprintf(cause, "gpu: an answer cap under 4096 bytes cannot hold an answer");
		return NULL;
	}
	if (o->display != NULL && strcmp(o->display, "-") != 0 &&
	    (o->display[0] != ':' || strspn(o->display + 1, "0123456789.") !=
	    strlen(o->display + 1) || o->display[1] == '\0')) {
		xasprintf(cause, "gpu: display \"%s\" is not like :0 (or - for none)", o->display);
		return NULL;
	}
	p = xcalloc(1, sizeof *p);
	p->base = base;
	p->known_hosts = xstrdup(o->known_hosts);
	p->proc_root = o->proc_root != NULL ? xstrdup(o->proc_root) : NULL;
	p->display = o->display != NULL ? xstrdup(o->display) : NULL;
	p->accept_new = o->accept_new_hostkeys;
	p->interval_ms = o->interval_ms > 0 ? o->interval_ms : GPU_INTERVAL_MS;
	p->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : GPU_TIMEOUT_MS;
	p->cap = o->answer_cap > 0 ? o->answer_cap : GPU_ANSWER_CAP;
	p->cb = cb;
	p->arg = arg;
	p->tick = event_new(base, -1, EV_PERSIST, gpu_tick_cb, p);
	return p;
}

void
gpu_prober_free(struct gpu_prober *p)
{
	if (p == NULL)
		return;
	if (p->in_cb > 0) {
		p->free_wanted = 1;
		event_del(p->tick);
		return;
	}
	gpu_prober_destroy(p);
}

int
gpu_prober_add(struct gpu_prober *p, const struct gpu_node_options *o, char **cause)
{
	struct gpu_pnode *nd;
	unsigned char addr[16];
	char *name;
	size_t i;

	if (o->host == NULL || *o->host == '\0' || o->user == NULL || *o->user == '\0') {
		xasprintf(cause, "gpu: a node needs a host and a user");
		return -1;
	}
	if (o->port < 0 || o->port > 65535) {
		xasprintf(cause, "gpu: node %s: port %d is out of range", o->host, o->port);
		return -1;
	}
	if (o->name != NULL)
		name = xstrdup(o->name);
	else
		xasprintf(&name, "%s:%d", o->host, o->port > 0 ? o->port : 22);
	for (i = 0; i < p->nnodes; i++) {
		if (!p->nodes[i]->removed && strcmp(p->nodes[i]->name, name) == 0) {
			xasprintf(cause, "gpu: node %s is listed twice", name);
			free(name);
			return -1;
		}
	}
	if (p->dns == NULL && inet_pton(AF_INET, o->host, addr) != 1 &&
	    inet_pton(AF_INET6, o->host, addr) != 1)
		p->dns = evdns_base_new(p->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
		    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	nd = xcalloc(1, sizeof *nd);
	nd->p = p;
	nd->name = name;
	nd->host = xstrdup(o->host);
	nd->user = xstrdup(o->user);
	nd->key_file = o->key_file != NULL ? xstrdup(o->key_file) : NULL;
	nd->port = o->port > 0 ? o->port : 22;
	nd->pub.name = nd->name;
	nd->pub.host = nd->host;
	nd->pub.port = nd->port;
	p->nodes = xreallocarray(p->nodes, p->nnodes + 1, sizeof *p->nodes);
	p->nodes[p->nnodes++] = nd;
	return 0;
}

int
gpu_prober_remove(struct gpu_prober *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nnodes; i++) {
		if (p->nodes[i]->removed || strcmp(p->nodes[i]->name, name) != 0)
			continue;
		p->nodes[i]->removed = 1;
		/* Its session goes now; the struct when no callback is on the stack. */
		ssh_channel_free(p->nodes[i]->exec);
		p->nodes[i]->exec = NULL;
		ssh_session_free(p->nodes[i]->ssh);
		p->nodes[i]->ssh = NULL;
		gpu_prober_settle(p);
		return 0;
	}
	return -1;
}

void
gpu_prober_start(struct gpu_prober *p)
{
	struct timeval tv;

	tv.tv_sec = p->interval_ms / 1000;
	tv.tv_usec = (p->interval_ms % 1000) * 1000;
	event_add(p->tick, &tv);
	gpu_prober_round(p);
}

size_t
gpu_prober_count(const struct gpu_prober *p)
{
	return p->nnodes;
}

const struct gpu_node *
gpu_prober_node(const struct gpu_prober *p, size_t i)
{
	return i < p->nnodes ? &p->nodes[i]->pub : NULL;
}

const struct gpu_node *
gpu_prober_find(const struct gpu_prober *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nnodes; i++) {
		if (!p->nodes[i]->removed && strcmp(p->nodes[i]->name, name) == 0)
			return &p->nodes[i]->pub;
	}
	return NULL;
}
