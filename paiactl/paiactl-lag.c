/*
 * paiactl-lag.c: lag, from one gateway (the control socket's "lag": its
 * own partitions, judged by its health checks) or from the broker
 * (--group G, --broker: every partition of the group's topic, whoever
 * owns it, also while every gateway is down). Both come out in one
 * shape, the LAG object of docs/control.md, which --json prints and the
 * table is drawn from.
 *
 * Judging a group from one look at the broker: a partition is STOP when
 * tasks wait on it and no member of the group owns it (no gateway will
 * run them; not while the group rebalances), WARN when its oldest task
 * waiting is older than --max-lag-s, ERR when its numbers could not be
 * read, OK otherwise. Exit status 3 when a partition is not OK, as for
 * a gateway's own judgement.
 */
#include "config.h"
#include "paiactl-int.h"

#include <stdlib.h>
#include <string.h>

#define PAIACTL_LAG_MS 5000		/* each of the five questions to the broker */
#define PAIACTL_LAG_GROUP "paia-gateway"	/* the gateway's default kafka.group.id */

/* Seconds between two epoch-ms times, as a JSON number, or null when then < 0. */
static void
paiactl_lag_age(cJSON *o, const char *name, int64_t then, int64_t now)
{
	if (then < 0)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, (double)(now > then ? now - then : 0) / 1000.0);
}

static cJSON *
paiactl_lag_owner(const struct client_lag_owner *ow)
{
	cJSON *o;

	if (ow == NULL)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	if (ow->member_id != NULL)
		cJSON_AddStringToObject(o, "member_id", ow->member_id);
	if (ow->client_id != NULL)
		cJSON_AddStringToObject(o, "client_id", ow->client_id);
	if (ow->host != NULL)
		cJSON_AddStringToObject(o, "host", ow->host);
	return o;
}

/* One partition of the broker's view, judged; appends to *why when not OK. */
static cJSON *
paiactl_lag_part_json(const struct client_lag *lag, const struct client_lag_part *p,
    long long max_lag_s, int64_t now, char **why)
{
	cJSON *o = cJSON_CreateObject();
	const char *status = "OK", *st = lag->group_state;
	int rebalancing = st != NULL && (strcmp(st, "PreparingRebalance") == 0 ||
	    strcmp(st, "CompletingRebalance") == 0);
	double lag_s = -1;
	char dur[32], *line = NULL, *s;

	if (p->lag == 0)
		lag_s = 0;
	else if (p->lag > 0 && p->oldest_ts >= 0)
		lag_s = (double)(now > p->oldest_ts ? now - p->oldest_ts : 0) / 1000.0;

	if (p->log_end < 0 || p->committed_ms < 0) {
		status = "ERR";
		xasprintf(&line, "partition %d: cannot be judged: %s", (int)p->partition,
		    p->error != NULL ? p->error : "not read");
	} else if (p->lag > 0 && lag->members_known && !rebalancing && p->owner == NULL) {
		status = "STOP";
		xasprintf(&line, "partition %d: %lld task%s waiting%s%s%s and no member of group "
		    "%s owns it (no gateway runs them)", (int)p->partition, (long long)p->lag,
		    p->lag == 1 ? "" : "s", lag_s >= 0 ? " (the oldest for " : "",
		    lag_s >= 0 ? client_text_duration((int64_t)(lag_s * 1000), dur, sizeof dur) :
		    "", lag_s >= 0 ? ")" : "", lag->group);
	} else if (max_lag_s > 0 && lag_s > (double)max_lag_s) {
		status = "WARN";
		xasprintf(&line, "partition %d: the oldest task waiting is %s old (over "
		    "--max-lag-s %lld)", (int)p->partition, client_text_duration(
		    (int64_t)(lag_s * 1000), dur, sizeof dur), max_lag_s);
	}

	cJSON_AddNumberToObject(o, "partition", p->partition);
	cJSON_AddNumberToObject(o, "committed", (double)p->committed);
	paiactl_lag_age(o, "committed_age_s", p->committed_ms, now);
	cJSON_AddNumberToObject(o, "log_end", (double)p->log_end);
	paiactl_lag_age(o, "log_end_age_s", p->log_end_ms, now);
	cJSON_AddNumberToObject(o, "lag", (double)p->lag);
	cJSON_AddNumberToObject(o, "lag_s", lag_s);
	cJSON_AddItemToObject(o, "owner", paiactl_lag_owner(p->owner));
	cJSON_AddStringToObject(o, "status", status);
	cJSON_AddBoolToObject(o, "healthy", line == NULL);
	if (line != NULL) {
		cJSON_AddStringToObject(o, "why", line);
		xasprintf(&s, "%s%s\n", *why != NULL ? *why : "", line);
		free(*why);
		*why = s;
		free(line);
	}
	if (p->error != NULL)
		cJSON_AddStringToObject(o, "error", p->error);
	return o;
}

/* The broker's view as a LAG object (docs/control.md). */
static cJSON *
paiactl_lag_broker_json(const struct client_lag *lag, long long max_lag_s)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	int64_t now = util_now_ms();
	char ts[40], *why = NULL;
	size_t i;

	cJSON_AddNumberToObject(root, "version", 1);
	cJSON_AddStringToObject(root, "source", "broker");
	cJSON_AddStringToObject(root, "group", lag->group);
	cJSON_AddStringToObject(root, "topic", lag->topic);
	cJSON_AddStringToObject(root, "time", client_text_time_fmt(now, ts, sizeof ts));
	if (lag->members_known) {
		cJSON_AddStringToObject(root, "group_state", lag->group_state);
		cJSON_AddNumberToObject(root, "members", (double)lag->nowners);
	} else {
		cJSON_AddNullToObject(root, "group_state");
		cJSON_AddNullToObject(root, "members");
		cJSON_AddStringToObject(root, "group_error", lag->group_error);
	}
	arr = cJSON_CreateArray();
	for (i = 0; i < lag->nparts; i++)
		cJSON_AddItemToArray(arr, paiactl_lag_part_json(lag, &lag->parts[i], max_lag_s,
		    now, &why));
	cJSON_AddBoolToObject(root, "healthy", why == NULL);
	if (why != NULL)
		cJSON_AddStringToObject(root, "why", why);
	cJSON_AddItemToObject(root, "partitions", arr);
	free(why);
	return root;
}

/* OWNER as a cell: "client_id host" (or the member id), "-" for none. */
static char *
paiactl_lag_owner_cell(const cJSON *o)
{
	const char *id, *host;
	char *s, *c;

	if (!cJSON_IsObject(o))
		return xstrdup("-");
	if ((id = client_json_str(o, "instance")) == NULL &&
	    (id = client_json_str(o, "client_id")) == NULL &&
	    (id = client_json_str(o, "member_id")) == NULL)
		id = "?";
	if ((host = client_json_str(o, "host")) != NULL && *host == '/')
		host++;
	xasprintf(&s, "%s%s%s", id, host != NULL ? "@" : "", host != NULL ? host : "");
	c = client_text_clean(s);
	free(s);
	return c;
}

/* A number of seconds as a duration ("-": missing or negative). */
static char *
paiactl_lag_seconds_cell(const cJSON *p, const char *name)
{
	double v;
	char dur[32];

	if (client_json_num(p, name, &v) != 0 || v < 0)
		return xstrdup("-");
	return xstrdup(client_text_duration((int64_t)(v * 1000), dur, sizeof dur));
}

/* AGE as a cell: the older of a row's two observations. */
static char *
paiactl_lag_age_cell(const cJSON *p)
{
	double a = -1, b = -1;
	char dur[32];

	client_json_num(p, "committed_age_s", &a);
	client_json_num(p, "log_end_age_s", &b);
	if (b > a)
		a = b;
	return xstrdup(a < 0 ? "-" : client_text_duration((int64_t)(a * 1000), dur, sizeof dur));
}

static void
paiactl_lag_print(const cJSON *root)
{
	static const char *const headers[] = {
		"PARTITION", "COMMITTED", "LOG-END", "LAG", "LAG-S", "OWNER", "STATUS", "HEALTHY",
		"AGE"
	};
	static const char *const keys[] = {
		"partition", "committed", "log_end", "lag", NULL, NULL, "status", "healthy"
	};
	const cJSON *parts = cJSON_GetObjectItemCaseSensitive(root, "partitions"), *p, *j;
	const char *src = client_json_str(root, "source"), *gerr;
	struct paiactl_table t;
	char *a, *b;
	size_t i;

	if (src != NULL && strcmp(src, "broker") == 0) {
		a = client_text_json(cJSON_GetObjectItemCaseSensitive(root, "group"));
		b = client_text_json(cJSON_GetObjectItemCaseSensitive(root, "topic"));
		printf("group %s on topic %s, from the broker", a, b);
		free(a);
		free(b);
		if ((gerr = client_json_str(root, "group_error")) != NULL) {
			a = client_text_clean(gerr);
			printf(" (owners unknown: %s)\n", a);
			free(a);
		} else {
			a = client_text_json(cJSON_GetObjectItemCaseSensitive(root, "group_state"));
			b = client_text_json(cJSON_GetObjectItemCaseSensitive(root, "members"));
			printf(": %s, %s member%s\n", a, b, strcmp(b, "1") == 0 ? "" : "s");
			free(a);
			free(b);
		}
	}
	if (!cJSON_IsArray(parts) || cJSON_GetArraySize(parts) == 0) {
		printf("no partitions assigned\n");
		return;
	}
	paiactl_table_init(&t, nitems(headers), headers);
	cJSON_ArrayForEach(p, parts) {
		for (i = 0; i < nitems(keys); i++) {
			if (i == 4)
				paiactl_table_add(&t, paiactl_lag_seconds_cell(p, "lag_s"));
			else if (i == 5)
				paiactl_table_add(&t, paiactl_lag_owner_cell(
				    cJSON_GetObjectItemCaseSensitive(p, "owner")));
			else
				paiactl_table_add_json(&t, cJSON_GetObjectItemCaseSensitive(p,
				    keys[i]));
		}
		paiactl_table_add(&t, paiactl_lag_age_cell(p));
	}
	paiactl_table_print(&t, stdout);
	paiactl_table_free(&t);
	cJSON_ArrayForEach(p, parts) {
		if ((j = cJSON_GetObjectItemCaseSensitive(p, "why")) != NULL && cJSON_IsString(j)) {
			a = client_text_clean(j->valuestring);
			printf("%s\n", a);
			free(a);
		}
		/* log_end_error: what gateways before the LAG object sent. */
		if (((j = cJSON_GetObjectItemCaseSensitive(p, "error")) != NULL ||
		    (j = cJSON_GetObjectItemCaseSensitive(p, "log_end_error")) != NULL) &&
		    cJSON_IsString(j)) {
			a = client_text_clean(j->valuestring);
			printf("partition %d: %s\n", (int)cJSON_GetNumberValue(
			    cJSON_GetObjectItemCaseSensitive(p, "partition")), a);
			free(a);
		}
	}
}

/* The group to ask the broker about: --group, kafka.group.id of -c, the default. */
static const char *
paiactl_lag_group(const struct paiactl *ctx, const struct paiactl_args *a)
{
	const char *g = paiactl_arg(a, "group");

	if (g != NULL)
		return g;
	if (ctx->conf != NULL && (g = config_get(ctx->conf, "kafka", "group.id")) != NULL &&
	    *g != '\0')
		return g;
	return PAIACTL_LAG_GROUP;
}

static cJSON *
paiactl_lag_from_broker(struct paiactl *ctx, const struct paiactl_args *a, long long max_lag_s,
    char **cause)
{
	struct client_kafka *k;
	struct client_lag lag;
	cJSON *root;

	if (paiactl_kafka_resolve(ctx, cause) != 0)
		return NULL;
	if ((k = paiactl_kafka_new(ctx, RD_KAFKA_CONSUMER, 0, NULL, cause)) == NULL)
		return NULL;
	if (client_lag_read(k, paiactl_lag_group(ctx, a), ctx->loc.topics[CLIENT_TOPIC_TASKS],
	    PAIACTL_LAG_MS, &lag, cause) != 0) {
		client_lag_clear(&lag);
		client_kafka_free(k);
		return NULL;
	}
	root = paiactl_lag_broker_json(&lag, max_lag_s);
	client_lag_clear(&lag);
	client_kafka_free(k);
	return root;
}

int
paiactl_cmd_lag(struct paiactl *ctx, const struct paiactl_args *a)
{
	int broker = paiactl_arg(a, "group") != NULL || paiactl_arg(a, "broker") != NULL, rc;
	long long max_lag_s = 0;
	char *cause = NULL;
	cJSON *root, *req;

	if ((rc = paiactl_arg_int(a, "max-lag-s", 1, INT32_MAX, &max_lag_s)) != 0)
		return rc;
	if (paiactl_arg(a, "group") != NULL && *paiactl_arg(a, "group") == '\0')
		return paiactl_usage_err(a->cmd, "--group: empty");
	if (max_lag_s > 0 && !broker)
		return paiactl_usage_err(a->cmd, "--max-lag-s judges the broker's view: give "
		    "--group G or --broker (a gateway judges its own with [health])");
	if (broker)
		root = paiactl_lag_from_broker(ctx, a, max_lag_s, &cause);
	else {
		req = client_request_new("lag", NULL, NULL);
		root = paiactl_call(ctx, req, &cause);
		cJSON_Delete(req);
		cJSON_DeleteItemFromObjectCaseSensitive(root, "ok");
	}
	if (root == NULL)
		return paiactl_err_cause(cause);
	if (paiactl_arg(a, "json") != NULL)
		paiactl_json_print(root);
	else
		paiactl_lag_print(root);
	/* Scripts and probes: 3 says "unhealthy", as opposed to 1 for an error. */
	rc = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "healthy")) ? 3 : 0;
	cJSON_Delete(root);
	return rc;
}
