/*
 * paiactl-int.h: what the parts of paiactl share: the command table
 * (each command with its flags, which drive parsing, -h, usage lines
 * and shell completion alike), the context every command gets (where
 * the gateway is, through client_locate, and the interrupt flag of
 * follow modes), the error helpers, the aligned tables and the JSON
 * printing all commands use. Text, times and the gateway's protocol are
 * client/'s.
 *
 * Single-threaded: everything here is used from main() only.
 */
#ifndef PAIA_PAIACTL_INT_H
#define PAIA_PAIACTL_INT_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "client.h"
#include "common.h"

struct paiactl;
struct paiactl_args;

#define PAIACTL_ANSWER_MS 5000		/* longest wait for one control answer */

/* One flag of a command: --name, -letter too when letter is set. */
struct paiactl_flag {
	const char *name;
	char letter;		/* 0: no short form */
	const char *value;	/* NULL: takes no value; else what it takes ("N") */
	const char *help;
};

struct paiactl_cmd {
	const char *name;
	const char *operands;	/* "ID", or "" */
	const struct paiactl_flag *flags;	/* ended by { NULL } */
	int (*exec)(struct paiactl *, const struct paiactl_args *);
	const char *help;
};

/* What the command line gave a command, parsed from its flag table. */
struct paiactl_args {
	const struct paiactl_cmd *cmd;
	const char **values;	/* per flag: the last value ("" for a flag without one), or NULL */
	char **operands;
	int noperands;
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
/* "paiactl: CMD: ..." and the command's usage line on stderr; returns 2. */
int paiactl_usage_err(const struct paiactl_cmd *, const char *, ...) printflike(2, 3);
/* SIGINT and SIGTERM set *ctx->stop and interrupt poll(2) (follow modes). */
void paiactl_signals_catch(void);

/* The value of a flag given (the last one), "" for one without a value, or NULL. */
const char *paiactl_arg(const struct paiactl_args *, const char *name);
/*
 * A whole number from a flag, between min and max, into *out (left alone
 * when the flag was not given): 0, or 2 after paiactl_usage_err().
 */
int paiactl_arg_int(const struct paiactl_args *, const char *name, long long min,
    long long max, long long *out);

/* The control socket's path, found on first use: NULL with *cause. */
const char *paiactl_socket(struct paiactl *, char **cause);
/* Kafka bootstrap servers and topics, found on first use: 0 or -1 with *cause. */
int paiactl_kafka_resolve(struct paiactl *, char **cause);
/* A Kafka client for the gateway found (paiactl_kafka_resolve first), with -c's kafka.*. */
struct client_kafka *paiactl_kafka_new(struct paiactl *, rd_kafka_type_t, size_t biggest,
    void (*dr_msg_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *), char **cause);
/* A connection to the gateway's socket (not yet connected); NULL with *cause. */
struct client_conn *paiactl_conn_new(struct paiactl *, const struct client_conn_opts *,
    char **cause);
/*
 * One request on a fresh connection to the gateway, its answer awaited
 * for at most timeout_ms (paiactl_call: PAIACTL_ANSWER_MS): the answer,
 * or NULL with *cause.
 */
cJSON *paiactl_call_ms(struct paiactl *, const cJSON *req, int timeout_ms, char **cause);
cJSON *paiactl_call(struct paiactl *, const cJSON *req, char **cause);
/* paiactl_call of {"cmd": cmd, key: value} (key NULL: no field). */
cJSON *paiactl_request(struct paiactl *, const char *cmd, const char *key, const char *value,
    char **cause);

/* Print one JSON value compactly on a line (takes no ownership). */
void paiactl_json_print(const cJSON *);
/* An answer without its "ok", for --json. */
void paiactl_answer_print(cJSON *resp);
/* "yes", "no", or "-" for what is not a boolean. */
const char *paiactl_yesno(const cJSON *);

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
/* A JSON value as a cell: "-" for missing, null or a negative number; yes/no. */
void paiactl_table_add_json(struct paiactl_table *, const cJSON *);
/* Print every row (widths from all rows). */
void paiactl_table_print(struct paiactl_table *, FILE *);
/* Print rows added since the last call (widths only grow); for --follow. */
void paiactl_table_flush(struct paiactl_table *, FILE *);
size_t paiactl_table_rows(const struct paiactl_table *);
void paiactl_table_free(struct paiactl_table *);

/* The task states of the control protocol, in their order. */
extern const char *const paiactl_states[];
extern const size_t paiactl_nstates;

/* The control commands (paiactl-control.c). */
int paiactl_cmd_status(struct paiactl *, const struct paiactl_args *);
int paiactl_cmd_tasks(struct paiactl *, const struct paiactl_args *);
int paiactl_cmd_task(struct paiactl *, const struct paiactl_args *);
int paiactl_cmd_requeue(struct paiactl *, const struct paiactl_args *);
int paiactl_cmd_cancel(struct paiactl *, const struct paiactl_args *);
int paiactl_cmd_watch(struct paiactl *, const struct paiactl_args *);
int paiactl_cmd_wait(struct paiactl *, const struct paiactl_args *);

/* What the console shows, for scripts (paiactl-console.c). */
int paiactl_cmd_pods(struct paiactl *, const struct paiactl_args *);
int paiactl_cmd_logs(struct paiactl *, const struct paiactl_args *);
int paiactl_cmd_videos(struct paiactl *, const struct paiactl_args *);
int paiactl_cmd_frame(struct paiactl *, const struct paiactl_args *);
int paiactl_cmd_video(struct paiactl *, const struct paiactl_args *);
/* The GPU view (paiactl-gpu.c). */
int paiactl_cmd_gpus(struct paiactl *, const struct paiactl_args *);
/* The VPN tunnel (paiactl-vpn.c); exits 3 while it is not healthy. */
int paiactl_cmd_vpn(struct paiactl *, const struct paiactl_args *);
/* Task ids the gateway knows, one per line, for completion; silent on errors. */
void paiactl_task_ids(struct paiactl *, FILE *);

/* lag, from the gateway or from the broker (paiactl-lag.c). */
int paiactl_cmd_lag(struct paiactl *, const struct paiactl_args *);

/* The relay a remote console runs over SSH (paiactl-dial.c). */
int paiactl_cmd_dial_stdio(struct paiactl *, const struct paiactl_args *);

/* The Kafka commands (paiactl-kafka.c). */
int paiactl_cmd_submit(struct paiactl *, const struct paiactl_args *);
int paiactl_cmd_results(struct paiactl *, const struct paiactl_args *);
int paiactl_cmd_topics(struct paiactl *, const struct paiactl_args *);

#endif
