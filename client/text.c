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
client_text_json(const cJSON *j)
{
	char *s, *c;
	double v;

	if (j == NULL || cJSON_IsNull(j))
		return xstrdup("-");
	if (cJSON_IsString(j))
		return client_text_clean(j->valuestring);
	if (cJSON_IsBool(j))
		return xstrdup(cJSON_IsTrue(j) ? "true" : "false");
	if (cJSON_IsNumber(j)) {
		v = j->valuedouble;
		if (v > -1e15 && v < 1e15 && (double)(long long)v == v)
			xasprintf(&s, "%lld", (long long)v);
		else
			xasprintf(&s, "%g", v);
		return s;
	}
	if ((s = cJSON_PrintUnformatted(j)) == NULL)
		return xstrdup("?");
	c = client_text_clean(s);
	cJSON_free(s);
	return c;
}

int
client_text_time_parse(const char *s, int64_t *ms)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0, oh, om, sign = 1;
	int64_t frac = 0, scale = 100, off = 0;
	const char *p;
	time_t t;

	if (s == NULL)
		return -1;
	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n == 0)
		return -1;
	p = s + n;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || strlen(p) != 6)
			return -1;
		off = sign * ((int64_t)oh * 3600 + (int64_t)om * 60) * 1000;
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000 + frac - off;
	return 0;
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
