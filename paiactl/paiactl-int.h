/*
 * paiactl-int.h: what the parts of paiactl share: the context every
 * command gets (where the gateway is, through client_locate, and the
 * interrupt flag of follow modes), the error and usage helpers, and the
 * aligned tables of paiactl.c that the control commands
 * (paiactl-control.c) and the Kafka commands (paiactl-kafka.c) print
 * with. Text, times and the gateway's protocol are client/'s.
 *
 * Single-threaded: everything here is used from main() only.
 */
#ifndef PAIA_PAIACTL_INT_H
#define PAIA_PAIACTL_INT_H

#include <signal.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "client.h"
#include "common.h"

struct paiactl;

struct paiactl_cmd {
	const char *name;
	const char *args;	/* usage after the name */
	int (*exec)(struct paiactl *, const struct paiactl_cmd *, int, char **);
	const char *help;
};

/* One run of paiactl: what the flags said and what was found from them. */
struct paiactl {
	struct client_locate_args where;	/* -S, -d, -b, the -c file */
	struct config *conf;			/* -c loaded, else NULL */
	struct client_location loc;		/* filled as commands need it */
	/* Set by SIGINT and SIGTERM once paiactl_signals_catch() ran. */
	const volatile sig_atomic_t *stop;
};

/* "paiactl: ..." on stderr; returns 1 (the exit status of a failure). */
int paiactl_err(const char *, ...) printflike(1, 2);
/* Print and free a cause; returns 1. */
int paiactl_err_cause(char *cause);
/* "paiactl: ..." and the command's usage line on stderr; returns 2. */
int paiactl_usage_err(const struct paiactl_cmd *, const char *, ...) printflike(2, 3);
/*
 * The command's usage on stdout (-h / --help). Returns PAIACTL_HELP_DONE,
 * which flag parsers hand back as "stop here, exit 0".
 */
#define PAIACTL_HELP_DONE (-1)
#define PAIACTL_EXIT(rc) ((rc) == PAIACTL_HELP_DONE ? 0 : (rc))
int paiactl_usage_help(const struct paiactl_cmd *);
/* SIGINT and SIGTERM set *ctx->stop and interrupt poll(2) (follow modes). */
void paiactl_signals_catch(void);
/* A count or number of seconds from a flag: 0, or -1 after paiactl_usage_err(). */
int paiactl_flag_int(const struct paiactl_cmd *, const char *flag, const char *value,
    long long min, long long max, long long *out);
/* Name the flag getopt_long refused and print usage; returns 2. */
int paiactl_flag_bad(const struct paiactl_cmd *, int ch, char **argv, int optopt_);

/* The control socket's path, found on first use: NULL with *cause. */
const char *paiactl_socket(struct paiactl *, char **cause);
/* Kafka bootstrap servers and topics, found on first use: 0 or -1 with *cause. */
int paiactl_kafka_resolve(struct paiactl *, char **cause);

/* Aligned columns, header first; cells are owned by the table. */
struct paiactl_table {
	size_t ncols;
	size_t ncells;
	char **cells;
	size_t *width;
	size_t printed;		/* cells already printed (streaming) */
};
void paiactl_table_init(struct paiactl_table *, size_t ncols, const char *const *headers);
void paiactl_table_add(struct paiactl_table *, char *owned);
void paiactl_table_addf(struct paiactl_table *, const char *, ...) printflike(2, 3);
/* Print every row (widths from all rows). */
void paiactl_table_print(struct paiactl_table *, FILE *);
/* Print rows added since the last call (widths only grow); for --follow. */
void paiactl_table_flush(struct paiactl_table *, FILE *);
size_t paiactl_table_rows(const struct paiactl_table *);
void paiactl_table_free(struct paiactl_table *);

/* The control commands (paiactl-control.c). */
int paiactl_cmd_status(struct paiactl *, const struct paiactl_cmd *, int, char **);
int paiactl_cmd_lag(struct paiactl *, const struct paiactl_cmd *, int, char **);
int paiactl_cmd_tasks(struct paiactl *, const struct paiactl_cmd *, int, char **);
int paiactl_cmd_task(struct paiactl *, const struct paiactl_cmd *, int, char **);
int paiactl_cmd_requeue(struct paiactl *, const struct paiactl_cmd *, int, char **);
int paiactl_cmd_cancel(struct paiactl *, const struct paiactl_cmd *, int, char **);
int paiactl_cmd_logs(struct paiactl *, const struct paiactl_cmd *, int, char **);
int paiactl_cmd_watch(struct paiactl *, const struct paiactl_cmd *, int, char **);

/* The relay a remote console runs over SSH (paiactl-dial.c). */
int paiactl_cmd_dial_stdio(struct paiactl *, const struct paiactl_cmd *, int, char **);

/* The Kafka commands (paiactl-kafka.c). */
int paiactl_cmd_submit(struct paiactl *, const struct paiactl_cmd *, int, char **);
int paiactl_cmd_results(struct paiactl *, const struct paiactl_cmd *, int, char **);
int paiactl_cmd_topics(struct paiactl *, const struct paiactl_cmd *, int, char **);

#endif
