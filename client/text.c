/*
 * text.c: what a client prints, made safe and readable. A gateway relays
 * text written by user programs (a task's error, a log line, a task id
 * from a Kafka key): nothing of it may reach a terminal raw. Also the
 * JSON-value-to-text rule tables use, and durations and RFC 3339 times
 * as the gateway writes them.
 *
 * Pure functions: no I/O, no state.
 */
#include "config.h"
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

char *
client_text_clean(const char *s)
{
	char *out = xstrdup(s), *p;

	for (p = out; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\n' || c == '\r' || c == '\t')
			*p = ' ';
		else if (c < 0x20 || c == 0x7f)
			*p = '?';
	}
	return out;
}

/* Length of the valid UTF-8 sequence at s[0..n) (not overlong, no surrogate), or 0. */
static size_t
client_text_utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

char *
client_text_utf8(const char *s, size_t len)
{
	static const char repl[] = "\xef\xbf\xbd";	/* U+FFFD */
	const unsigned char *p = (const unsigned char *)s;
	char *out = xmalloc(len * 3 + 1), *o = out;
	size_t i = 0, n;

	while (i < len) {
		if (p[i] != 0 && (n = client_text_utf8_len(p + i, len - i)) > 0) {
			memcpy(o, p + i, n);
			o += n;
			i += n;
		} else {
			memcpy(o, repl, 3);
			o += 3;
			i++;
		}
	}
	*o = '\0';
	return out;
}

const char *
client_json_str(const cJSON *obj, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(j) ? j->valuestring : NULL;
}

int
client_json_num(const cJSON *obj, const char *name, double *out)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsNumber(j))
		return -1;
	*out = j->valuedouble;
	return 0;
}

char *
client_text_number(double v)
{
	char *s;

	if (v > -1e15 && v < 1e15 && (double)(long long)v == v)
		xasprintf(&s, "%lld", (long long)v);
	else
		xasprintf(&s, "%g", v);
	return s;
}

char *
client_text_json(const cJSON *j)
{
	char *s, *c;

	if (j == NULL || cJSON_IsNull(j))
		return xstrdup("-");
	if (cJSON_IsString(j))
		return client_text_clean(j->valuestring);
	if (cJSON_IsBool(j))
		return xstrdup(cJSON_IsTrue(j) ? "true" : "false");
	if (cJSON_IsNumber(j))
		return client_text_number(j->valuedouble);
	if ((s = cJSON_PrintUnformatted(j)) == NULL)
		return xstrdup("?");
	c = client_text_clean(s);
	cJSON_free(s);
	return c;
}


char *
client_text_time_fmt(int64_t ms, char *buf, size_t len)
{
	return util_time_fmt(ms, buf, len);
}

char *
client_text_duration(int64_t ms, char *buf, size_t len)
{
	long long s = (long long)(ms / 1000);

	if (ms < 0)
		snprintf(buf, len, "-");
	else if (ms < 10000)
		snprintf(buf, len, "%.1fs", (double)ms / 1000);
	else if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	return buf;
}
