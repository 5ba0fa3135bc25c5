/*
 * paiactl-int.h: what the parts of paiactl share: the resolved
 * locations of one gateway (state folder, control socket, Kafka), the
 * error and usage helpers, and the small text helpers (tables, JSON
 * values, times) of paiactl.c that the control commands
 * (paiactl-control.c) and the Kafka commands (paiactl-kafka.c) print
 * with.
 *
 * Single-threaded: everything here is used from main() only.
 */
#ifndef PAIA_PAIACTL_INT_H
#define PAIA_PAIACTL_INT_H

#include <signal.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common.h"

struct ctl_cmd {
	const char *name;
	const char *args;	/* usage after the name */
	int (*exec)(const struct ctl_cmd *, int, char **);
	const char *help;
};

/*
 * Where one gateway is, as given by flags, then environment, then the
 * config file (-c), then <state_dir>/embedded.json, then defaults.
 */
struct ctl {
	const char *arg_socket;		/* -S */
	const char *arg_state;		/* -d */
	const char *arg_config;		/* -c */
	const char *arg_bootstrap;	/* -b */

	struct config *conf;		/* -c loaded, else NULL */
	char *state_dir;

	int emb_loaded;
	int emb_present;
	char *emb_path;
	char *emb_bootstrap;
	char *emb_socket;
	char *emb_topics[3];		/* tasks, results, dlq */
	long emb_pid;

	char *socket_path;
	char *bootstrap;
	const char *bootstrap_from;	/* for messages: "-b", the config, embedded.json */
	char *tasks_topic;
	char *results_topic;
	char *dlq_topic;
};
extern struct ctl ctl;
extern volatile sig_atomic_t ctl_interrupted;

/* "paiactl: ..." on stderr; returns 1 (the exit status of a failure). */
int ctl_err(const char *, ...) printflike(1, 2);
/* Print and free a cause; returns 1. */
int ctl_err_cause(char *cause);
/* "paiactl: ..." and the command's usage line on stderr; returns 2. */
int ctl_usage_err(const struct ctl_cmd *, const char *, ...) printflike(2, 3);
/*
 * The command's usage on stdout (-h / --help). Returns CTL_HELP_DONE,
 * which flag parsers hand back as "stop here, exit 0".
 */
#define CTL_HELP_DONE (-1)
#define CTL_EXIT(rc) ((rc) == CTL_HELP_DONE ? 0 : (rc))
int ctl_usage_help(const struct ctl_cmd *);
/* SIGINT and SIGTERM set ctl_interrupted and interrupt poll(2) (follow modes). */
void ctl_signals_catch(void);
/* A count or number of seconds from a flag: 0, or -1 after ctl_usage_err(). */
int ctl_flag_int(const struct ctl_cmd *, const char *flag, const char *value,
    long long min, long long max, long long *out);
/* Name the flag getopt_long refused and print usage; returns 2. */
int ctl_flag_bad(const struct ctl_cmd *, int ch, char **argv, int optopt_);

/* Kafka bootstrap servers and topics (paiactl-kafka.c needs them). */
int ctl_kafka_resolve(char **cause);
/* 1 if embedded.json names a pid that is no longer running. */
int ctl_embedded_stale(void);

/* Text: a copy with control characters made harmless for a terminal. */
char *ctl_clean(const char *);
/* A JSON value for display ("-" when missing or null). Caller frees. */
char *ctl_json_text(const cJSON *);
const char *ctl_json_str(const cJSON *obj, const char *name);
/* A number field: 0, or -1 when missing or not a number. */
int ctl_json_num(const cJSON *obj, const char *name, double *out);
/* RFC 3339 (with Z or an offset, optional fraction) to epoch ms: 0 or -1. */
int ctl_time_parse(const char *, int64_t *ms);
/* A duration such as 0.4s, 12s, 4m05s, 2h03m, 3d04h. */
char *ctl_duration_fmt(int64_t ms, char *buf, size_t len);

/* Aligned columns, header first; cells are owned by the table. */
struct ctl_table {
	size_t ncols;
	size_t ncells;
	char **cells;
	size_t *width;
	size_t printed;		/* cells already printed (streaming) */
};
void ctl_table_init(struct ctl_table *, size_t ncols, const char *const *headers);
void ctl_table_add(struct ctl_table *, char *owned);
void ctl_table_addf(struct ctl_table *, const char *, ...) printflike(2, 3);
/* Print every row (widths from all rows). */
void ctl_table_print(struct ctl_table *, FILE *);
/* Print rows added since the last call (widths only grow); for --follow. */
void ctl_table_flush(struct ctl_table *, FILE *);
size_t ctl_table_rows(const struct ctl_table *);
void ctl_table_free(struct ctl_table *);

/* The control commands (paiactl-control.c). */
int ctl_cmd_status(const struct ctl_cmd *, int, char **);
int ctl_cmd_lag(const struct ctl_cmd *, int, char **);
int ctl_cmd_tasks(const struct ctl_cmd *, int, char **);
int ctl_cmd_task(const struct ctl_cmd *, int, char **);
int ctl_cmd_requeue(const struct ctl_cmd *, int, char **);
int ctl_cmd_cancel(const struct ctl_cmd *, int, char **);
int ctl_cmd_logs(const struct ctl_cmd *, int, char **);
int ctl_cmd_watch(const struct ctl_cmd *, int, char **);
/* The control socket path, resolved on first use: 0 or -1 with *cause. */
int ctl_socket_resolve(char **cause);

/* The Kafka commands (paiactl-kafka.c). */
int ctl_cmd_submit(const struct ctl_cmd *, int, char **);
int ctl_cmd_results(const struct ctl_cmd *, int, char **);
int ctl_cmd_topics(const struct ctl_cmd *, int, char **);

#endif
