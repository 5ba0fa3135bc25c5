/*
 * kafka.c: librdkafka's own log lines through ours. Every handle of the
 * daemon (intake's consumer, the committer's producer, health's lag
 * client, the embedded mock cluster and demo producer) sets a log
 * callback that lands here, so none of its "%3|..." lines reach standard
 * error raw: its syslog level becomes ours (0-3 error, 4 warn, 5-6
 * info, 7 debug), its text the msg, with component= (which handle) and
 * facility= (librdkafka's tag: FAIL, ERROR, ...).
 *
 * A broker that does not answer makes librdkafka repeat a line every
 * reconnect (with a count of its own, and "after 0ms" timings that
 * differ): lines are rate-limited by log_limited() on their text with
 * those parts left out, so one line per window says it, with the count.
 *
 * Called from librdkafka's threads: only log.c's thread-safe calls.
 */
#include "config.h"
#include "gateway.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The text without what changes between repeats of one condition:
 * ", N identical error(s) suppressed" and the N of "after Nms".
 */
char *
kafka_log_key(const char *buf)
{
	static const char suppressed[] = " identical error(s) suppressed";
	char *key = xmalloc(strlen(buf) + 1), *o = key;
	const char *p = buf, *q;

	while (*p != '\0') {
		if (p[0] == ',' && p[1] == ' ' && isdigit((unsigned char)p[2])) {
			for (q = p + 2; isdigit((unsigned char)*q); q++)
				;
			if (strncmp(q, suppressed, sizeof suppressed - 1) == 0) {
				p = q + sizeof suppressed - 1;
				continue;
			}
		}
		if (strncmp(p, "after ", 6) == 0 && isdigit((unsigned char)p[6])) {
			for (q = p + 6; isdigit((unsigned char)*q); q++)
				;
			if (q[0] == 'm' && q[1] == 's') {
				memcpy(o, "after ms", 8);
				o += 8;
				p = q + 2;
				continue;
			}
		}
		*o++ = *p++;
	}
	*o = '\0';
	return key;
}

enum log_level
kafka_log_level(int syslog_level)
{
	if (syslog_level <= 3)
		return LOG_LEVEL_ERROR;
	if (syslog_level == 4)
		return LOG_LEVEL_WARN;
	if (syslog_level <= 6)
		return LOG_LEVEL_INFO;
	return LOG_LEVEL_DEBUG;
}

void
kafka_log(const char *component, int level, const char *fac, const char *buf)
{
	enum log_level l = kafka_log_level(level);
	char *key;

	if (l < log_get_level())
		return;
	key = kafka_log_key(buf);
	log_limited(l, key, buf, "component=%s facility=%s", log_q(component), log_q(fac));
	free(key);
	/* librdkafka's threads end without telling us: keep no log_q ring behind them. */
	if (gettid() != getpid())
		log_q_release();
}
