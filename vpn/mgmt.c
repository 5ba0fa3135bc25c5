/*
 * mgmt.c: OpenVPN's management protocol as pure functions over lines
 * (doc/management-notes.txt of openvpn 2.6): a parser for one line, and
 * a session that holds commands until the >INFO banner (openvpn drops
 * what is sent before it), sends them in order and pairs each reply
 * with its command: "SUCCESS: ..." or "ERROR: ..." for most, lines up to
 * "END" for the multi-line ones (state, version, status). Real-time
 * notifications (">SOURCE:...") may come at any time, in the middle of
 * a reply too.
 *
 * It does no I/O and keeps no secret it does not have to: an auth token
 * openvpn announces is dropped at parse time, and a command marked
 * secret is shown in logs by its first two words only. Text that came
 * from openvpn is cut to size and made printable before it leaves here.
 */
#include "config.h"
#include "vpn-int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "common.h"

static const char *mgmt_type_names[] = {
	"empty", "info", "state", "bytecount", "bytecount_cli", "hold", "log", "password",
	"need-ok", "need-str", "fatal", "notify", "success", "error", "end", "data", "malformed",
};

const char *
vpn_mgmt_type_name(enum vpn_mgmt_type t)
{
	if ((size_t)t >= nitems(mgmt_type_names))
		return "?";
	return mgmt_type_names[t];
}

/*
 * Copy n bytes of src into dst (cap bytes, NUL included), cut on a
 * character boundary, control bytes made '?', and every non-ASCII byte
 * '?' when the copy is not valid UTF-8.
 */
static void
mgmt_copy(char *dst, size_t cap, const char *src, size_t n)
{
	size_t i;

	if (n > cap - 1) {
		n = cap - 1;
		/* Do not cut a UTF-8 sequence: back up over continuation bytes. */
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	for (i = 0; i < n; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = '?';
	if (!util_utf8_valid(dst, n))
		for (i = 0; i < n; i++)
			if ((unsigned char)dst[i] >= 0x80)
				dst[i] = '?';
}

static int
mgmt_prefix(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	return len >= n && memcmp(s, p, n) == 0;
}

/* A decimal number of at most 19 digits (no sign, no blanks). */
static int
mgmt_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 19)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* The next comma-separated field of [*p, end): its start and length. */
static void
mgmt_field(const char **p, const char *end, const char **f, size_t *flen)
{
	const char *c = memchr(*p, ',', (size_t)(end - *p));

	*f = *p;
	if (c == NULL) {
		*flen = (size_t)(end - *p);
		*p = end;
	} else {
		*flen = (size_t)(c - *p);
		*p = c + 1;
	}
}

int
vpn_mgmt_parse_state(const char *s, size_t len, struct vpn_mgmt_state *st)
{
	const char *p = s, *end = s + len, *f;
	uint64_t t;
	size_t n, i;

	memset(st, 0, sizeof *st);
	mgmt_field(&p, end, &f, &n);
	if (mgmt_u64(f, n, &t) != 0 || t > INT64_MAX / 1000)
		return -1;
	st->time = (int64_t)t;
	if (p == end && (n == len || s[len - 1] != ','))
		return -1;	/* no name */
	mgmt_field(&p, end, &f, &n);
	if (n == 0 || n >= sizeof st->name)
		return -1;
	for (i = 0; i < n; i++)
		if (!((f[i] >= 'A' && f[i] <= 'Z') || f[i] == '_'))
			return -1;
	memcpy(st->name, f, n);
	st->name[n] = '\0';
	/* The optional fields, in order; absent ones stay "". */
	mgmt_field(&p, end, &f, &n);
	mgmt_copy(st->desc, sizeof st->desc, f, n);
	mgmt_field(&p, end, &f, &n);
	mgmt_copy(st->local_ip, sizeof st->local_ip, f, n);
	mgmt_field(&p, end, &f, &n);
	mgmt_copy(st->remote_ip, sizeof st->remote_ip, f, n);
	mgmt_field(&p, end, &f, &n);
	mgmt_copy(st->remote_port, sizeof st->remote_port, f, n);
	mgmt_field(&p, end, &f, &n);	/* local address */
	mgmt_field(&p, end, &f, &n);	/* local port */
	mgmt_field(&p, end, &f, &n);
	mgmt_copy(st->local_ipv6, sizeof st->local_ipv6, f, n);
	return 0;
}

/* "Need 'Auth' ...": the quoted name into msg->name; the rest after it. */
static const char *
mgmt_quoted(const char *s, const char *end, struct vpn_mgmt_msg *msg)
{
	const char *q1 = memchr(s, '\'', (size_t)(end - s)), *q2;

	if (q1 == NULL)
		return NULL;
	q2 = memchr(q1 + 1, '\'', (size_t)(end - q1 - 1));
	if (q2 == NULL)
		return NULL;
	mgmt_copy(msg->name, sizeof msg->name, q1 + 1, (size_t)(q2 - q1 - 1));
	return q2 + 1;
}

static void
mgmt_parse_password(const char *p, const char *end, struct vpn_mgmt_msg *msg)
{
	size_t n = (size_t)(end - p);
	const char *rest;

	if (mgmt_prefix(p, n, "Auth-Token:")) {
		msg->pw = VPN_MGMT_PW_TOKEN;	/* a credential: keep nothing of it */
		return;
	}
	if (mgmt_prefix(p, n, "Verification Failed")) {
		msg->pw = VPN_MGMT_PW_FAILED;
		if (mgmt_quoted(p, end, msg) == NULL)
			mgmt_copy(msg->name, sizeof msg->name, "", 0);
		mgmt_copy(msg->text, sizeof msg->text, p, n);
		return;
	}
	if (mgmt_prefix(p, n, "Need ") && (rest = mgmt_quoted(p, end, msg)) != NULL) {
		if (strcmp(msg->name, "Auth") == 0 &&
		    mgmt_prefix(rest, (size_t)(end - rest), " username/password"))
			msg->pw = VPN_MGMT_PW_NEED_AUTH;
		else if (strcmp(msg->name, "Private Key") == 0)
			msg->pw = VPN_MGMT_PW_NEED_KEY;
		else
			msg->pw = VPN_MGMT_PW_NEED_OTHER;
		mgmt_copy(msg->text, sizeof msg->text, p, n);
		return;
	}
	msg->pw = VPN_MGMT_PW_OTHER;
	mgmt_copy(msg->text, sizeof msg->text, p, n);
}

/* ">NEED-OK:Need 'name' confirmation MSG:text" (NEED-STR alike). */
static void
mgmt_parse_need(const char *p, const char *end, struct vpn_mgmt_msg *msg)
{
	const char *m;
	size_t n = (size_t)(end - p);

	if (mgmt_quoted(p, end, msg) == NULL) {
		mgmt_copy(msg->text, sizeof msg->text, p, n);
		return;
	}
	m = memmem(p, n, "MSG:", 4);
	if (m != NULL)
		mgmt_copy(msg->text, sizeof msg->text, m + 4, (size_t)(end - m - 4));
	else
		mgmt_copy(msg->text, sizeof msg->text, p, n);
}

static void
mgmt_malformed(struct vpn_mgmt_msg *msg, const char *why, const char *line, size_t len)
{
	char shown[96];

	msg->type = VPN_MGMT_MALFORMED;
	mgmt_copy(shown, sizeof shown, line, len);
	snprintf(msg->text, sizeof msg->text, "%s: \"%s\"", why, shown);
}

static void
mgmt_parse_notify(const char *line, size_t len, struct vpn_mgmt_msg *msg)
{
	const char *colon = memchr(line, ':', len), *p, *end = line + len, *f;
	size_t n, i, slen;
	uint64_t v;

	slen = colon != NULL ? (size_t)(colon - line - 1) : 0;
	if (colon == NULL || slen == 0 || slen >= sizeof msg->source) {
		mgmt_malformed(msg, "not a notification", line, len);
		return;
	}
	for (i = 1; i <= slen; i++)
		if (!((line[i] >= 'A' && line[i] <= 'Z') || line[i] == '_' || line[i] == '-')) {
			mgmt_malformed(msg, "not a notification", line, len);
			return;
		}
	memcpy(msg->source, line + 1, slen);
	msg->source[slen] = '\0';
	p = colon + 1;
	n = (size_t)(end - p);

	if (strcmp(msg->source, "INFO") == 0) {
		msg->type = VPN_MGMT_INFO;
		mgmt_copy(msg->text, sizeof msg->text, p, n);
	} else if (strcmp(msg->source, "STATE") == 0) {
		msg->type = VPN_MGMT_STATE;
		if (vpn_mgmt_parse_state(p, n, &msg->state) != 0)
			mgmt_malformed(msg, "bad state", line, len);
	} else if (strcmp(msg->source, "BYTECOUNT") == 0) {
		msg->type = VPN_MGMT_BYTECOUNT;
		mgmt_field(&p, end, &f, &n);
		if (p == end || mgmt_u64(f, n, &msg->bytes_in) != 0 ||
		    mgmt_u64(p, (size_t)(end - p), &msg->bytes_out) != 0)
			mgmt_malformed(msg, "bad byte count", line, len);
	} else if (strcmp(msg->source, "BYTECOUNT_CLI") == 0) {
		msg->type = VPN_MGMT_BYTECOUNT_CLI;
		mgmt_field(&p, end, &f, &n);
		if (p == end || mgmt_u64(f, n, &v) != 0 || v > UINT32_MAX) {
			mgmt_malformed(msg, "bad byte count", line, len);
			return;
		}
		msg->cid = (unsigned long)v;
		mgmt_field(&p, end, &f, &n);
		if (p == end || mgmt_u64(f, n, &msg->bytes_in) != 0 ||
		    mgmt_u64(p, (size_t)(end - p), &msg->bytes_out) != 0)
			mgmt_malformed(msg, "bad byte count", line, len);
	} else if (strcmp(msg->source, "HOLD") == 0) {
		/* "Waiting for hold release:10": the seconds are optional. */
		const char *c = memrchr(p, ':', n);

		msg->type = VPN_MGMT_HOLD;
		mgmt_copy(msg->text, sizeof msg->text, p, n);
		if (c != NULL && mgmt_u64(c + 1, (size_t)(end - c - 1), &v) == 0 && v <= 86400)
			msg->hold_s = (int)v;
	} else if (strcmp(msg->source, "LOG") == 0) {
		/* "time,flags,message" (the message may hold commas). */
		msg->type = VPN_MGMT_LOG;
		mgmt_field(&p, end, &f, &n);
		if (p == end || mgmt_u64(f, n, &v) != 0) {
			mgmt_malformed(msg, "bad log line", line, len);
			return;
		}
		mgmt_field(&p, end, &f, &n);
		mgmt_copy(msg->name, sizeof msg->name, f, n);
		mgmt_copy(msg->text, sizeof msg->text, p, (size_t)(end - p));
	} else if (strcmp(msg->source, "PASSWORD") == 0) {
		msg->type = VPN_MGMT_PASSWORD;
		mgmt_parse_password(p, end, msg);
	} else if (strcmp(msg->source, "NEED-OK") == 0) {
		msg->type = VPN_MGMT_NEED_OK;
		mgmt_parse_need(p, end, msg);
	} else if (strcmp(msg->source, "NEED-STR") == 0) {
		msg->type = VPN_MGMT_NEED_STR;
		mgmt_parse_need(p, end, msg);
	} else if (strcmp(msg->source, "FATAL") == 0) {
		msg->type = VPN_MGMT_FATAL;
		mgmt_copy(msg->text, sizeof msg->text, p, n);
	} else {
		msg->type = VPN_MGMT_NOTIFY;
		mgmt_copy(msg->text, sizeof msg->text, p, n);
	}
}

void
vpn_mgmt_parse_line(const char *line, size_t len, struct vpn_mgmt_msg *msg)
{
	const char *t;

	memset(msg, 0, sizeof *msg);
	msg->hold_s = -1;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0) {
		msg->type = VPN_MGMT_EMPTY;
		return;
	}
	if (line[0] == '>') {
		mgmt_parse_notify(line, len, msg);
		return;
	}
	if (mgmt_prefix(line, len, "SUCCESS:") || mgmt_prefix(line, len, "ERROR:")) {
		msg->type = line[0] == 'S' ? VPN_MGMT_SUCCESS : VPN_MGMT_ERROR;
		t = (const char *)memchr(line, ':', len) + 1;
		while (t < line + len && *t == ' ')
			t++;
		mgmt_copy(msg->text, sizeof msg->text, t, (size_t)(line + len - t));
		return;
	}
	if (len == 3 && memcmp(line, "END", 3) == 0) {
		msg->type = VPN_MGMT_END;
		return;
	}
	msg->type = VPN_MGMT_DATA;
	mgmt_copy(msg->text, sizeof msg->text, line, len);
}

int
vpn_mgmt_is_prompt(const char *buf, size_t len)
{
	return mgmt_prefix(buf, len, "ENTER PASSWORD:");
}

char *
vpn_mgmt_quote(const char *s)
{
	size_t n = strlen(s), i, o = 0;
	char *q = xmalloc(2 * n + 3);

	q[o++] = '"';
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			explicit_bzero(q, 2 * n + 3);
			free(q);
			return NULL;
		}
		if (s[i] == '"' || s[i] == '\\')
			q[o++] = '\\';
		q[o++] = s[i];
	}
	q[o++] = '"';
	q[o] = '\0';
	return q;
}

enum vpn_state
vpn_state_next(enum vpn_state cur, const char *ovpn)
{
	if (strcmp(ovpn, "CONNECTED") == 0)
		return VPN_CONNECTED;
	if (strcmp(ovpn, "RECONNECTING") == 0)
		return VPN_RECONNECTING;
	if (strcmp(ovpn, "EXITING") == 0)
		return cur;
	if (cur == VPN_CONNECTED || cur == VPN_RECONNECTING)
		return VPN_RECONNECTING;
	return VPN_CONNECTING;
}

/* ---- the session ---- */

struct mgmt_cmd {
	char *shown;		/* what logs may see */
	size_t len;		/* of the command line, "\n" included */
	char *line;		/* kept only until it is in the output */
	enum vpn_mgmt_reply reply;
	int tag;
	TAILQ_ENTRY(mgmt_cmd) entry;
};
TAILQ_HEAD(mgmt_cmds, mgmt_cmd);

struct vpn_mgmt {
	int ready;		/* the banner came */
	struct mgmt_cmds queued;	/* waiting for the banner */
	struct mgmt_cmds sent;	/* waiting for their replies */
	char *out;		/* bytes to send */
	size_t outlen, outcap;
	char *list;		/* the reply being collected */
	size_t listlen, nlines;
	int truncated;
	struct mgmt_cmd *done;	/* the last reply's command, freed on the next feed */
};

struct vpn_mgmt *
vpn_mgmt_new(void)
{
	struct vpn_mgmt *m = xcalloc(1, sizeof *m);

	TAILQ_INIT(&m->queued);
	TAILQ_INIT(&m->sent);
	m->list = xmalloc(1);
	m->list[0] = '\0';
	return m;
}

static void
mgmt_cmd_free(struct mgmt_cmd *c)
{
	if (c == NULL)
		return;
	if (c->line != NULL) {
		explicit_bzero(c->line, c->len);
		free(c->line);
	}
	free(c->shown);
	free(c);
}

void
vpn_mgmt_free(struct vpn_mgmt *m)
{
	struct mgmt_cmd *c;

	if (m == NULL)
		return;
	while ((c = TAILQ_FIRST(&m->queued)) != NULL) {
		TAILQ_REMOVE(&m->queued, c, entry);
		mgmt_cmd_free(c);
	}
	while ((c = TAILQ_FIRST(&m->sent)) != NULL) {
		TAILQ_REMOVE(&m->sent, c, entry);
		mgmt_cmd_free(c);
	}
	mgmt_cmd_free(m->done);
	if (m->out != NULL)
		explicit_bzero(m->out, m->outcap);
	free(m->out);
	free(m->list);
	free(m);
}

/* Move a command's line into the output; from now on it waits for its reply. */
static void
mgmt_send(struct vpn_mgmt *m, struct mgmt_cmd *c)
{
	char *grown;

	if (m->outlen + c->len > m->outcap) {
		/* Grow by hand, so that no copy of a password is left behind. */
		size_t cap = (m->outlen + c->len) * 2;

		grown = xmalloc(cap);
		if (m->outlen > 0)
			memcpy(grown, m->out, m->outlen);
		if (m->out != NULL) {
			explicit_bzero(m->out, m->outcap);
			free(m->out);
		}
		m->out = grown;
		m->outcap = cap;
	}
	memcpy(m->out + m->outlen, c->line, c->len);
	m->outlen += c->len;
	explicit_bzero(c->line, c->len);
	free(c->line);
	c->line = NULL;
	TAILQ_INSERT_TAIL(&m->sent, c, entry);
}

int
vpn_mgmt_command(struct vpn_mgmt *m, const char *cmd, enum vpn_mgmt_reply reply, int tag,
    int secret)
{
	struct mgmt_cmd *c;
	size_t n = strlen(cmd), i;
	const char *sp;

	for (i = 0; i < n; i++)
		if ((unsigned char)cmd[i] < 0x20 || cmd[i] == 0x7f)
			return -1;
	c = xcalloc(1, sizeof *c);
	c->len = n + 1;
	c->line = xmalloc(c->len);
	memcpy(c->line, cmd, n);
	c->line[n] = '\n';
	/* A secret shows its verb and first argument only: password "Auth" [...] */
	sp = secret ? strchr(cmd, ' ') : NULL;
	if (sp != NULL && (sp = strchr(sp + 1, ' ')) != NULL)
		xasprintf(&c->shown, "%.*s [...]", (int)(sp - cmd), cmd);
	else
		c->shown = xstrdup(secret ? "[...]" : cmd);
	c->reply = reply;
	c->tag = tag;
	if (m->ready)
		mgmt_send(m, c);
	else
		TAILQ_INSERT_TAIL(&m->queued, c, entry);
	return 0;
}

const char *
vpn_mgmt_output(const struct vpn_mgmt *m, size_t *len)
{
	*len = m->outlen;
	return m->out;
}

void
vpn_mgmt_sent(struct vpn_mgmt *m, size_t n)
{
	if (n > m->outlen)
		n = m->outlen;
	memmove(m->out, m->out + n, m->outlen - n);
	m->outlen -= n;
	explicit_bzero(m->out + m->outlen, n);
}

int
vpn_mgmt_ready(const struct vpn_mgmt *m)
{
	return m->ready;
}

size_t
vpn_mgmt_waiting(const struct vpn_mgmt *m)
{
	struct mgmt_cmd *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &m->sent, entry)
		n++;
	return n;
}

static void
mgmt_list_reset(struct vpn_mgmt *m)
{
	m->list[0] = '\0';
	m->listlen = m->nlines = 0;
	m->truncated = 0;
}

static void
mgmt_list_add(struct vpn_mgmt *m, const char *text)
{
	size_t n = strlen(text);

	m->nlines++;
	if (m->listlen + n + 1 > VPN_MGMT_LIST_MAX) {
		m->truncated = 1;
		return;
	}
	m->list = xrealloc(m->list, m->listlen + n + 2);
	memcpy(m->list + m->listlen, text, n);
	m->list[m->listlen + n] = '\n';
	m->listlen += n + 1;
	m->list[m->listlen] = '\0';
}

/* The head command's reply is complete. */
static void
mgmt_reply(struct vpn_mgmt *m, struct vpn_mgmt_event *ev, int ok, const char *text)
{
	struct mgmt_cmd *c = TAILQ_FIRST(&m->sent);

	TAILQ_REMOVE(&m->sent, c, entry);
	m->done = c;
	ev->type = VPN_MGMT_EV_REPLY;
	ev->tag = c->tag;
	ev->command = c->shown;
	ev->ok = ok;
	ev->text = text;
	ev->nlines = m->nlines;
	ev->truncated = m->truncated;
}

static void
mgmt_unexpected(struct vpn_mgmt_event *ev, const char *why)
{
	char line[sizeof ev->msg.text];
	size_t n = strlen(why);

	memcpy(line, ev->msg.text, sizeof line);
	if (line[0] == '\0')
		snprintf(line, sizeof line, "%s", vpn_mgmt_type_name(ev->msg.type));
	ev->type = VPN_MGMT_EV_UNEXPECTED;
	/* "why: line", cut to size. */
	memcpy(ev->msg.text, why, n);
	memcpy(ev->msg.text + n, ": ", 2);
	mgmt_copy(ev->msg.text + n + 2, sizeof ev->msg.text - n - 2, line, strlen(line));
}

void
vpn_mgmt_feed(struct vpn_mgmt *m, const char *line, size_t len, struct vpn_mgmt_event *ev)
{
	struct vpn_mgmt_msg *msg = &ev->msg;
	struct mgmt_cmd *head, *c;

	mgmt_cmd_free(m->done);
	m->done = NULL;
	if (m->listlen == 0)
		m->list[0] = '\0';	/* the last list handed over is done with */
	memset(ev, 0, sizeof *ev);
	vpn_mgmt_parse_line(line, len, msg);
	head = TAILQ_FIRST(&m->sent);

	switch (msg->type) {
	case VPN_MGMT_EMPTY:
		return;
	case VPN_MGMT_INFO:
		if (!m->ready) {
			m->ready = 1;
			while ((c = TAILQ_FIRST(&m->queued)) != NULL) {
				TAILQ_REMOVE(&m->queued, c, entry);
				mgmt_send(m, c);
			}
			ev->type = VPN_MGMT_EV_BANNER;
			return;
		}
		ev->type = VPN_MGMT_EV_NOTIFY;
		return;
	case VPN_MGMT_STATE:
	case VPN_MGMT_BYTECOUNT:
	case VPN_MGMT_BYTECOUNT_CLI:
	case VPN_MGMT_HOLD:
	case VPN_MGMT_LOG:
	case VPN_MGMT_PASSWORD:
	case VPN_MGMT_NEED_OK:
	case VPN_MGMT_NEED_STR:
	case VPN_MGMT_FATAL:
	case VPN_MGMT_NOTIFY:
	case VPN_MGMT_MALFORMED:
		ev->type = VPN_MGMT_EV_NOTIFY;
		return;
	case VPN_MGMT_SUCCESS:
	case VPN_MGMT_ERROR:
		if (head == NULL) {
			mgmt_unexpected(ev, "a reply to no command");
			return;
		}
		/* A list command may answer ERROR: instead of its lines. */
		mgmt_reply(m, ev, msg->type == VPN_MGMT_SUCCESS, msg->text);
		mgmt_list_reset(m);
		return;
	case VPN_MGMT_END:
		if (head == NULL || head->reply != VPN_MGMT_REPLY_LIST) {
			mgmt_unexpected(ev, "END without a list");
			return;
		}
		mgmt_reply(m, ev, 1, m->list);
		/* The text stays valid until the next feed: reset then. */
		m->nlines = 0;
		m->listlen = 0;
		m->truncated = 0;
		return;
	case VPN_MGMT_DATA:
		if (head == NULL || head->reply != VPN_MGMT_REPLY_LIST) {
			mgmt_unexpected(ev, head == NULL ? "a line no command asked for" :
			    "a list line where a status reply was due");
			return;
		}
		mgmt_list_add(m, msg->text);
		ev->type = VPN_MGMT_EV_NONE;
		return;
	}
}
