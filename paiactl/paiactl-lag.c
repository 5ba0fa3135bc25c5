/*
 * paiactl-lag.c: lag, from one gateway (the control socket's "lag": its
 * own partitions, judged by its health checks) or from the broker
 * (--group G, --broker: every partition of the group's topic, whoever
 * owns it, also while every gateway is down). Both come out in one
 * shape, the LAG object of docs/control.md, which --json prints and the
 * table is drawn from; a gateway's also has each partition's last checks
 * (history), drawn as sparklines by --history.
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

#include "proto.h"

#define PAIACTL_LAG_MS 5000		/* each of the five questions to the broker */
#define PAIACTL_LAG_GROUP "paia-gateway"	/* the gateway's default kafka.group.id */

/* Seconds between two epoch-ms times, or -1 (null) when then < 0. */
static double
paiactl_lag_age(int64_t then, int64_t now)
{
	return then < 0 ? -1 : (double)(now > then ? now - then : 0) / 1000.0;
}

/* One partition of the broker's view, judged; appends to *why when not OK. */
static void
paiactl_lag_part(const struct client_lag *lag, const struct client_lag_part *p,
    long long max_lag_s, int64_t now, struct proto_lag_view *v, struct proto_lag_owner *ow,
    char **why)
{
	const char *st = lag->group_state;
	int rebalancing = st != NULL && (strcmp(st, "PreparingRebalance") == 0 ||
	    strcmp(st, "CompletingRebalance") == 0);
	double lag_s = -1;
	char dur[32], *line = NULL, *s;

	if (p->lag == 0)
		lag_s = 0;
	else if (p->lag > 0 && p->oldest_ts >= 0)
		lag_s = (double)(now > p->oldest_ts ? now - p->oldest_ts : 0) / 1000.0;
	v->status = HEALTH_OK;
	if (p->log_end < 0 || p->committed_ms < 0) {
		v->status = HEALTH_ERR;
		xasprintf(&line, "partition %d: cannot be judged: %s", (int)p->partition,
		    p->error != NULL ? p->error : "not read");
	} else if (p->lag > 0 && lag->members_known && !rebalancing && p->owner == NULL) {
		v->status = HEALTH_STOP;
		xasprintf(&line, "partition %d: %lld task%s waiting%s%s%s and no member of group "
		    "%s owns it (no gateway runs them)", (int)p->partition, (long long)p->lag,
		    p->lag == 1 ? "" : "s", lag_s >= 0 ? " (the oldest for " : "",
		    lag_s >= 0 ? client_text_duration((int64_t)(lag_s * 1000), dur, sizeof dur) :
		    "", lag_s >= 0 ? ")" : "", lag->group);
	} else if (max_lag_s > 0 && lag_s > (double)max_lag_s) {
		v->status = HEALTH_WARN;
		xasprintf(&line, "partition %d: the oldest task waiting is %s old (over "
		    "--max-lag-s %lld)", (int)p->partition, client_text_duration(
		    (int64_t)(lag_s * 1000), dur, sizeof dur), max_lag_s);
	}
	v->partition = p->partition;
	v->committed = p->committed;
	v->committed_age_s = paiactl_lag_age(p->committed_ms, now);
	v->log_end = p->log_end;
	v->log_end_age_s = paiactl_lag_age(p->log_end_ms, now);
	v->lag = p->lag;
	v->lag_s = lag_s;
	if (p->owner != NULL) {
		ow->member_id = p->owner->member_id;
		ow->client_id = p->owner->client_id;
		ow->host = p->owner->host;
		v->owner = ow;
	}
	v->healthy = line == NULL;
	v->bad_checks = -1;
	v->why = line;
	v->error = p->error;
	if (line != NULL) {
		xasprintf(&s, "%s%s\n", *why != NULL ? *why : "", line);
		free(*why);
		*why = s;
	}
}

/* The broker's view as a LAG object (docs/control.md), through proto/. */
static cJSON *
paiactl_lag_broker_json(const struct client_lag *lag, long long max_lag_s)
{
	struct proto_lag l;
	struct proto_lag_view *pv;
	struct proto_lag_owner *owners;
	int64_t now = util_now_ms();
	char *why = NULL;
	cJSON *root;
	size_t i;

	memset(&l, 0, sizeof l);
	pv = xcalloc(lag->nparts + 1, sizeof *pv);
	owners = xcalloc(lag->nparts + 1, sizeof *owners);
	for (i = 0; i < lag->nparts; i++)
		paiactl_lag_part(lag, &lag->parts[i], max_lag_s, now, &pv[i], &owners[i], &why);
	l.source = "broker";
	l.group = lag->group;
	l.topic = lag->topic;
	l.time_ms = now;
	l.has_group_state = 1;
	l.group_state = lag->members_known ? lag->group_state : NULL;
	l.members = lag->members_known ? (int64_t)lag->nowners : -1;
	l.group_error = lag->members_known ? NULL : lag->group_error;
	l.healthy = why == NULL;
	l.why = why;
	l.partitions = pv;
	l.npartitions = lag->nparts;
	root = proto_lag_encode(&l);
	for (i = 0; i < lag->nparts; i++)
		free((char *)pv[i].why);
	free(pv);
	free(owners);
	free(why);
	return root;
}

/* OWNER as a cell: "instance", "client_id@host" (or the member id), "-" for none. */
static char *
paiactl_lag_owner_cell(const struct proto_lag_owner *o)
{
	const char *id, *host;
	char *s, *c;

	if (o == NULL)
		return xstrdup("-");
	if ((id = o->instance) == NULL && (id = o->client_id) == NULL &&
	    (id = o->member_id) == NULL)
		id = "?";
	if ((host = o->host) != NULL && *host == '/')
		host++;
	xasprintf(&s, "%s%s%s", id, host != NULL ? "@" : "", host != NULL ? host : "");
	c = client_text_clean(s);
	free(s);
	return c;
}

/* A number of seconds as a duration ("-": not known). */
static char *
paiactl_lag_seconds_cell(double v)
{
	char dur[32];

	return xstrdup(v < 0 ? "-" : client_text_duration((int64_t)(v * 1000), dur, sizeof dur));
}

/* A count or offset ("-": not known). */
static char *
paiactl_lag_int_cell(int64_t v)
{
	char *s;

	if (v < 0)
		return xstrdup("-");
	xasprintf(&s, "%lld", (long long)v);
	return s;
}

static void
paiactl_lag_print(const struct proto_lag *l)
{
	static const char *const headers[] = {
		"PARTITION", "COMMITTED", "LOG-END", "LAG", "LAG-S", "OWNER", "STATUS", "HEALTHY",
		"AGE"
	};
	const struct proto_lag_view *v;
	struct paiactl_table t;
	char *a;
	size_t i;

	if (l->source != NULL && strcmp(l->source, "broker") == 0) {
		a = client_text_clean(l->group != NULL ? l->group : "?");
		printf("group %s", a);
		free(a);
		a = client_text_clean(l->topic != NULL ? l->topic : "?");
		printf(" on topic %s, from the broker", a);
		free(a);
		if (l->group_state == NULL) {
			a = client_text_clean(l->group_error != NULL ? l->group_error : "unknown");
			printf(" (owners unknown: %s)\n", a);
			free(a);
		} else {
			a = client_text_clean(l->group_state);
			printf(": %s, %lld member%s\n", a, (long long)l->members,
			    l->members == 1 ? "" : "s");
			free(a);
		}
	}
	if (l->npartitions == 0) {
		printf("no partitions assigned\n");
		return;
	}
	paiactl_table_init(&t, nitems(headers), headers);
	for (i = 0; i < l->npartitions; i++) {
		v = &l->partitions[i];
		paiactl_table_add(&t, paiactl_lag_int_cell(v->partition));
		paiactl_table_add(&t, paiactl_lag_int_cell(v->committed));
		paiactl_table_add(&t, paiactl_lag_int_cell(v->log_end));
		paiactl_table_add(&t, paiactl_lag_int_cell(v->lag));
		paiactl_table_add(&t, paiactl_lag_seconds_cell(v->lag_s));
		paiactl_table_add(&t, paiactl_lag_owner_cell(v->owner));
		paiactl_table_add(&t, xstrdup(proto_health_name(v->status)));
		paiactl_table_add(&t, xstrdup(v->healthy ? "yes" : "no"));
		/* AGE: the older of the row's two observations. */
		paiactl_table_add(&t, paiactl_lag_seconds_cell(v->log_end_age_s > v->committed_age_s ?
		    v->log_end_age_s : v->committed_age_s));
	}
	paiactl_table_print(&t, stdout);
	paiactl_table_free(&t);
	for (i = 0; i < l->npartitions; i++) {
		v = &l->partitions[i];
		if (v->why != NULL) {
			a = client_text_clean(v->why);
			printf("%s\n", a);
			free(a);
		}
		if (v->error != NULL) {
			a = client_text_clean(v->error);
			printf("partition %d: %s\n", (int)v->partition, a);
			free(a);
		}
	}
}

/*
 * --history: each partition's last checks (a gateway's "history",
 * decoded by proto/) as a sparkline, oldest first, with the time they
 * span, the highest and the latest lag.
 */
static void
paiactl_lag_history_print(const struct proto_lag *l)
{
	static const char *const bars[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	const struct proto_lag_view *v;
	char dur[32];
	int64_t max, span;
	size_t i, k;

	printf("\n");
	for (i = 0; i < l->npartitions; i++) {
		v = &l->partitions[i];
		if (v->nhistory == 0) {
			printf("partition %d: no history yet\n", (int)v->partition);
			continue;
		}
		for (max = 0, k = 0; k < v->nhistory; k++)
			if (v->history[k].lag > max)
				max = v->history[k].lag;
		printf("partition %d: ", (int)v->partition);
		for (k = 0; k < v->nhistory; k++)
			fputs(v->history[k].lag < 0 ? " " : max == 0 ? bars[0] :
			    bars[(size_t)(v->history[k].lag * 7 / max)], stdout);
		span = v->history[v->nhistory - 1].t_ms - v->history[0].t_ms;
		printf("  %zu checks over %s, max lag %jd, now %jd\n", v->nhistory,
		    client_text_duration(span, dur, sizeof dur), (intmax_t)max,
		    (intmax_t)v->history[v->nhistory - 1].lag);
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
	int history = paiactl_arg(a, "history") != NULL;
	long long max_lag_s = 0;
	struct proto_lag lag;
	char *cause = NULL;
	cJSON *root;

	if ((rc = paiactl_arg_int(a, "max-lag-s", 1, INT32_MAX, &max_lag_s)) != 0)
		return rc;
	if (paiactl_arg(a, "group") != NULL && *paiactl_arg(a, "group") == '\0')
		return paiactl_usage_err(a->cmd, "--group: empty");
	if (max_lag_s > 0 && !broker)
		return paiactl_usage_err(a->cmd, "--max-lag-s judges the broker's view: give "
		    "--group G or --broker (a gateway judges its own with [health])");
	if (history && broker)
		return paiactl_usage_err(a->cmd, "--history: the broker keeps no history of a "
		    "group's lag; a gateway does (leave out --group and --broker)");
	if (broker)
		root = paiactl_lag_from_broker(ctx, a, max_lag_s, &cause);
	else {
		root = paiactl_request(ctx, "lag", NULL, NULL, &cause);
		cJSON_DeleteItemFromObjectCaseSensitive(root, "ok");
	}
	if (root == NULL)
		return paiactl_err_cause(cause);
	if (proto_lag_decode(root, &lag, &cause) != 0) {
		cJSON_Delete(root);
		return paiactl_err_cause(cause);
	}
	if (paiactl_arg(a, "json") != NULL)
		paiactl_json_print(root);
	else {
		paiactl_lag_print(&lag);
		if (history)
			paiactl_lag_history_print(&lag);
	}
	/* Scripts and probes: 3 says "unhealthy", as opposed to 1 for an error. */
	rc = lag.healthy ? 0 : 3;
	proto_lag_clear(&lag);
	cJSON_Delete(root);
	return rc;
}
