/*
 * fuzz-vpn-mgmt.c: the OpenVPN management protocol reader (vpn/mgmt.c)
 * on any bytes. The input is cut into lines as the supervisor cuts them
 * (at "\n", lines over VPN_MGMT_LINE_MAX dropped) and fed to a session
 * that has the supervisor's commands queued, a secret one among them;
 * each line is also parsed alone. Whatever comes back must be
 * NUL-terminated, printable (no control bytes) and valid UTF-8; what
 * the session would let a log show of a command never holds the
 * secret; replies come in the order commands were queued. Nothing may crash, leak or read out of bounds.
 */
#include "config.h"
#include "vpn-int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "hunter2-fuzz"

static void
fuzz_text(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap), i;

	assert(n < cap);
	for (i = 0; i < n; i++)
		assert((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
	assert(util_utf8_valid(s, n));
}

static void
fuzz_msg(const struct vpn_mgmt_msg *m)
{
	assert(m->type <= VPN_MGMT_MALFORMED);
	fuzz_text(m->text, sizeof m->text);
	fuzz_text(m->name, sizeof m->name);
	fuzz_text(m->state.desc, sizeof m->state.desc);
	fuzz_text(m->state.local_ip, sizeof m->state.local_ip);
	if (m->type == VPN_MGMT_STATE) {
		size_t i;

		assert(m->state.name[0] != '\0');
		for (i = 0; m->state.name[i] != '\0'; i++)
			assert((m->state.name[i] >= 'A' && m->state.name[i] <= 'Z') ||
			    m->state.name[i] == '_');
		(void)vpn_state_next(VPN_CONNECTED, m->state.name);
	}
	if (m->type == VPN_MGMT_HOLD)
		assert(m->hold_s >= -1 && m->hold_s <= 86400);
	if (m->type == VPN_MGMT_PASSWORD && m->pw == VPN_MGMT_PW_TOKEN)
		assert(m->text[0] == '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		const char *cmd;
		enum vpn_mgmt_reply reply;
		int secret;
	} cmds[] = {
		{ "state on", VPN_MGMT_REPLY_STATUS, 0 },
		{ "bytecount 5", VPN_MGMT_REPLY_STATUS, 0 },
		{ "hold off", VPN_MGMT_REPLY_STATUS, 0 },
		{ "pid", VPN_MGMT_REPLY_STATUS, 0 },
		{ "state", VPN_MGMT_REPLY_LIST, 0 },
		{ "password \"Auth\" \"" SECRET "\"", VPN_MGMT_REPLY_STATUS, 1 },
		{ "version", VPN_MGMT_REPLY_LIST, 0 },
	};
	struct vpn_mgmt *s = vpn_mgmt_new();
	struct vpn_mgmt_event ev;
	struct vpn_mgmt_msg m;
	const char *p = (const char *)data, *end = p + size, *nl;
	const char *out;
	size_t i, len, outlen;
	int next_tag = 0;

	for (i = 0; i < nitems(cmds); i++)
		assert(vpn_mgmt_command(s, cmds[i].cmd, cmds[i].reply, (int)i, cmds[i].secret) == 0);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((nl != NULL ? nl : end) - p);
		if (len <= VPN_MGMT_LINE_MAX) {
			vpn_mgmt_parse_line(p, len, &m);
			fuzz_msg(&m);
			vpn_mgmt_feed(s, p, len, &ev);
			fuzz_msg(&ev.msg);
			if (ev.type == VPN_MGMT_EV_REPLY) {
				/* In order, each once, and its shown form never the secret. */
				assert(ev.tag == next_tag);
				next_tag++;
				assert(strstr(ev.command, SECRET) == NULL);
				assert(ev.text != NULL && strlen(ev.text) <= VPN_MGMT_LIST_MAX);
			}
			/* Once the banner came, everything queued is out (and wiped when sent). */
			if (vpn_mgmt_ready(s)) {
				out = vpn_mgmt_output(s, &outlen);
				if (outlen > 0) {
					assert(out[outlen - 1] == '\n');
					vpn_mgmt_sent(s, outlen);
				}
			} else
				assert(vpn_mgmt_output(s, &outlen) == NULL || outlen == 0);
		}
		p += len + 1;
	}
	assert((size_t)next_tag + vpn_mgmt_waiting(s) <= nitems(cmds));
	vpn_mgmt_free(s);
	log_q_release();
	return 0;
}
