/*
 * probe.c: the prober. Every interval it starts a round on each node that
 * is not still busy with the last one. A node keeps one SSH session and,
 * on it, one channel running paia-gpu-probe --serve; a round writes a
 * fresh nonce to it and reads the answer up to the line that ends it
 * ("@@paia NONCE end"), cut at answer_cap, then parses it into a report.
 * Kept from round to round, the channel costs a round one small packet
 * out and the answer in: no channel opened, no command started by sshd
 * (bench/gpuprobe measures the difference).
 *
 * A round ends within timeout_ms whatever the node does: a timer per node
 * fails it and drops the node's session, which the next round makes anew
 * (connect, handshake and authentication are bounded by what is left of
 * the round). A node never waits for another, nor the loop for a node.
 * A session found dead when a round starts gets one new one at once.
 *
 * A node keeps its last good report with the time it came; when a round
 * fails the report stays and the reason is kept (stale). It does not
 * decide what a stale node means, nor read tasks or pods: the round
 * callback hands the node to the caller.
 */
#include "config.h"
#include "gpu.h"

#include <sys/random.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "common.h"
#include "probe-script.h"

#define GPU_INTERVAL_MS 5000
#define GPU_TIMEOUT_MS 4000
#define GPU_ANSWER_CAP (1024 * 1024)
#define GPU_STDERR_KEEP 512

struct gpu_pnode {
	struct gpu_node pub;
	struct gpu_prober *p;
	char *name, *host, *user, *key_file;
	int port;
	struct ssh_session *ssh;
	struct ssh_channel *chan;	/* paia-gpu-probe --serve */
	struct gpu_report *report;
	char *stale;
	char nonce[17];
	char marker[32];		/* "@@paia NONCE end\n" */
	size_t marker_len;
	char *buf;			/* this round's answer so far */
	size_t len, alloc;
	char err[GPU_STDERR_KEEP + 1];	/* the probe's last stderr */
	size_t err_len;
	struct event *deadline;
	int64_t started;		/* monotonic ms */
	int retried;
	int removed;
};

struct gpu_prober {
	struct event_base *base;
	char *known_hosts, *proc_root, *display, *command;
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

static void gpu_node_ask(struct gpu_pnode *);
static void gpu_node_end(struct gpu_pnode *, struct gpu_report *, const char *);

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
	xasprintf(&cmd, "sh -c %s paia-gpu-probe %s %d %s %s", script,
	    nonce != NULL ? nonce : "--serve", seconds > 0 ? seconds : 1, proc, disp);
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

/* Let go of the node's channel and session (closed in the background). */
static void
gpu_node_disconnect(struct gpu_pnode *nd)
{
	ssh_channel_free(nd->chan);
	nd->chan = NULL;
	ssh_session_free(nd->ssh);
	nd->ssh = NULL;
}

static void
gpu_pnode_free(struct gpu_pnode *nd)
{
	gpu_node_disconnect(nd);
	if (nd->deadline != NULL)
		event_free(nd->deadline);
	gpu_report_free(nd->report);
	free(nd->buf);
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
	free(p->command);
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

	evtimer_del(nd->deadline);
	nd->pub.round_ms = now - nd->started;
	nd->pub.busy = 0;
	nd->len = 0;
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

/* Fail the round with "user@host:port: " + the reason. */
static void
gpu_node_fail(struct gpu_pnode *nd, const char *fmt, ...) printflike(2, 3);
static void
gpu_node_fail(struct gpu_pnode *nd, const char *fmt, ...)
{
	va_list ap;
	char *why, *msg;

	va_start(ap, fmt);
	xvasprintf(&why, fmt, ap);
	va_end(ap);
	xasprintf(&msg, "%s@%s:%d: %s", nd->user, nd->host, nd->port, why);
	gpu_node_end(nd, NULL, msg);
	free(why);
	free(msg);
}

static void
gpu_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gpu_pnode *nd = arg;
	size_t got = nd->len;
	char *stage = NULL;

	if (nd->ssh != NULL && !ssh_session_ready(nd->ssh))
		stage = xstrdup(ssh_session_stage(nd->ssh));
	/* Hung command or hung host: drop both; the next round connects anew. */
	gpu_node_disconnect(nd);
	if (stage != NULL)
		gpu_node_fail(nd, "no connection within %d ms (%s)", nd->p->timeout_ms, stage);
	else
		gpu_node_fail(nd, "no answer within %d ms (%zu bytes read)", nd->p->timeout_ms,
		    got);
	free(stage);
}

static void
gpu_session_cb(struct ssh_session *s, const char *error, void *arg)
{
	struct gpu_pnode *nd = arg;

	if (error == NULL || nd->ssh != s)
		return;
	/*
	 * Died. A round in flight heard it through its channel already (the
	 * channel's callback runs first); between rounds the next connects anew.
	 */
	log_debug("gpu: session closed", "node=%s reason=%s", log_q(nd->name), log_q(error));
	ssh_channel_free(nd->chan);
	nd->chan = NULL;
	ssh_session_free(s);
	nd->ssh = NULL;
}

/* The answer ends with the round's end marker on a line of its own. */
static const char *
gpu_answer_end(struct gpu_pnode *nd, size_t from)
{
	const char *p = nd->buf + from, *e = nd->buf + nd->len, *hit;

	while (p < e && (hit = memmem(p, (size_t)(e - p), nd->marker, nd->marker_len)) != NULL) {
		if (hit == nd->buf || hit[-1] == '\n')
			return hit + nd->marker_len;
		p = hit + 1;
	}
	return NULL;
}

static void
gpu_chan_data_cb(struct ssh_channel *c, int stream, const char *data, size_t len, void *arg)
{
	struct gpu_pnode *nd = arg;
	struct gpu_prober *p = nd->p;
	struct gpu_report *r;
	const char *end;
	char *cause = NULL;
	size_t from, n;

	if (stream == 1) {
		/* Keep the last of stderr: why the probe may have stopped. */
		if (len >= GPU_STDERR_KEEP) {
			memcpy(nd->err, data + len - GPU_STDERR_KEEP, GPU_STDERR_KEEP);
			nd->err_len = GPU_STDERR_KEEP;
		} else {
			n = nd->err_len + len > GPU_STDERR_KEEP ? nd->err_len + len - GPU_STDERR_KEEP : 0;
			memmove(nd->err, nd->err + n, nd->err_len - n);
			memcpy(nd->err + nd->err_len - n, data, len);
			nd->err_len = nd->err_len - n + len;
		}
		nd->err[nd->err_len] = '\0';
		return;
	}
	if (!nd->pub.busy)
		return;		/* nothing was asked: not an answer */
	if (nd->len + len > p->cap) {
		/* The channel goes; the next round starts another. */
		ssh_channel_free(nd->chan);
		nd->chan = NULL;
		gpu_node_fail(nd, "answer over %zu bytes, cut", p->cap);
		return;
	}
	if (nd->len + len > nd->alloc) {
		nd->alloc = nd->len + len > nd->alloc * 2 ? nd->len + len : nd->alloc * 2;
		nd->buf = xrealloc(nd->buf, nd->alloc);
	}
	memcpy(nd->buf + nd->len, data, len);
	from = nd->len > nd->marker_len ? nd->len - nd->marker_len : 0;
	nd->len += len;
	if ((end = gpu_answer_end(nd, from)) == NULL)
		return;
	r = gpu_answer_parse(nd->buf, (size_t)(end - nd->buf), nd->nonce, &cause);
	if (r == NULL) {
		gpu_node_fail(nd, "probe answer: %s", cause);
		free(cause);
		return;
	}
	gpu_node_end(nd, r, NULL);
}

static void
gpu_chan_close_cb(struct ssh_channel *c, int exit_status, const char *error, void *arg)
{
	struct gpu_pnode *nd = arg;
	char *why;

	nd->chan = NULL;	/* freed by ssh.c after this */
	if (nd->ssh != NULL && ssh_session_error(nd->ssh) != NULL) {
		ssh_session_free(nd->ssh);
		nd->ssh = NULL;
	}
	/*
	 * Between rounds (the socket is watched all along, so an sshd that
	 * restarts is noticed then): the next round opens another. In a
	 * round: the node went away while it worked; no second try, the
	 * reason is the node's.
	 */
	if (!nd->pub.busy)
		return;
	if (error != NULL)
		why = xstrdup(error);
	else if (nd->err_len > 0)
		xasprintf(&why, "the probe exited %d: %.*s", exit_status,
		    (int)strcspn(nd->err, "\n"), nd->err);
	else
		xasprintf(&why, "the probe exited %d", exit_status);
	if (error != NULL)
		gpu_node_end(nd, NULL, why);
	else
		gpu_node_fail(nd, "%s", why);
	free(why);
}

/* Ask the node's serving probe for a round, connecting first if needed. */
static void
gpu_node_ask(struct gpu_pnode *nd)
{
	struct gpu_prober *p = nd->p;
	struct ssh_options o;
	int64_t left = p->timeout_ms - (util_mono_ms() - nd->started);
	char line[18], *cause = NULL;

	if (left < 1)
		left = 1;
	nd->len = 0;
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
	if (nd->chan == NULL) {
		nd->err_len = 0;
		nd->chan = ssh_channel_open(nd->ssh, p->command, gpu_chan_data_cb,
		    gpu_chan_close_cb, nd);
	}
	if (nd->chan == NULL) {
		char *why = xstrdup(ssh_session_error(nd->ssh) != NULL ?
		    ssh_session_error(nd->ssh) : "the SSH session is closed");

		gpu_node_disconnect(nd);
		if (!nd->retried) {
			free(why);
			nd->retried = 1;
			gpu_node_ask(nd);
			return;
		}
		gpu_node_end(nd, NULL, why);
		free(why);
		return;
	}
	gpu_nonce(nd->nonce);
	nd->marker_len = (size_t)snprintf(nd->marker, sizeof nd->marker, "@@paia %s end\n",
	    nd->nonce);
	snprintf(line, sizeof line, "%s\n", nd->nonce);
	if (ssh_channel_write(nd->chan, line, 17, &cause) != 0) {
		gpu_node_disconnect(nd);
		gpu_node_fail(nd, "%s", cause);
		free(cause);
	}
}

static void
gpu_node_round(struct gpu_pnode *nd)
{
	struct timeval tv;

	if (nd->pub.busy || nd->removed)
		return;
	nd->pub.busy = 1;
	nd->retried = 0;
	nd->started = util_mono_ms();
	tv.tv_sec = nd->p->timeout_ms / 1000;
	tv.tv_usec = (nd->p->timeout_ms % 1000) * 1000;
	evtimer_add(nd->deadline, &tv);
	gpu_node_ask(nd);
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
	/* Each nvidia-smi gets the round's time, so none outlives it on the node. */
	p->command = gpu_probe_command(NULL, (p->timeout_ms + 999) / 1000, p->proc_root,
	    p->display);
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
	nd->deadline = evtimer_new(p->base, gpu_deadline_cb, nd);
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
		evtimer_del(p->nodes[i]->deadline);
		gpu_node_disconnect(p->nodes[i]);
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
