/*
 * gpu.h: GPU telemetry of the nodes, read over SSH. A prober asks each
 * node for a round per interval (the paia-gpu-probe script: the
 * nvidia-smi queries, the cgroup of each GPU process, the X display
 * check) and keeps, per node, the last good report with its age and why
 * the node is stale; a pure parser turns the script's answer into plain
 * structs.
 *
 * It knows nothing of tasks, Kafka or screens: a process is tied to a
 * pod UID and container ID from its cgroup; which task that pod runs is
 * the caller's business.
 *
 * @locality: the prober runs in the thread of the libevent loop given
 * to gpu_prober_new() (one non-blocking SSH session per node, through
 * common/ssh.c, with one channel kept running the script); the parser
 * functions have no thread affinity. docs/gpu.md has the contract.
 */
#ifndef PAIA_GPU_H
#define PAIA_GPU_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

/* ---- what a node reports ---- */

/*
 * A number nvidia-smi may decline to give: "[N/A]" (or N/A),
 * "[Not Supported]", "[Insufficient Permissions]" (the probe user may not
 * read it), anything else in brackets ("[Unknown Error]",
 * "[GPU requires reset]", ...) is GPU_VALUE_ERROR.
 */
enum gpu_value_state {
	GPU_VALUE_OK = 0,
	GPU_VALUE_NA,
	GPU_VALUE_NOT_SUPPORTED,
	GPU_VALUE_NO_PERMISSION,
	GPU_VALUE_ERROR
};
struct gpu_value {
	double v;	/* 0 unless state is GPU_VALUE_OK */
	enum gpu_value_state state;
};
const char *gpu_value_state_name(enum gpu_value_state);

/* A MIG device of a GPU, from nvidia-smi -L ("MIG 3g.40gb Device 0: (UUID: MIG-...)"). */
struct gpu_mig {
	int index;
	char *profile;	/* "3g.40gb" */
	char *uuid;	/* "MIG-..." */
};

/* One physical GPU. Strings are printable ASCII or UTF-8, never NULL. */
struct gpu_device {
	int index;
	char *uuid;
	char *name;
	struct gpu_value util_gpu;	/* percent */
	struct gpu_value util_mem;	/* percent */
	struct gpu_value mem_used;	/* MiB */
	struct gpu_value mem_total;	/* MiB */
	struct gpu_value temp;		/* degrees C */
	struct gpu_value power;		/* W */
	struct gpu_value power_limit;	/* W */
	struct gpu_value clock_sm;	/* MHz */
	char pstate[8];			/* "P0".."P15"; "" when not given */
	struct gpu_mig *migs;
	size_t nmigs;
};

/* A compute process holding GPU memory. */
struct gpu_process {
	long pid;		/* in the node's PID namespace */
	int gpu;		/* index into the report's gpus, or -1 */
	int mig;		/* index into that GPU's migs, or -1 */
	char *gpu_uuid;
	struct gpu_value used_mem;	/* MiB */
	char *name;
	/* From its cgroup; NULL when not in a pod (or it exited meanwhile). */
	char *pod_uid;		/* "6f1c2b3a-9d4e-4c6b-8a55-2f0e1d7c9b11" */
	char *container_id;	/* 64 hex digits, or NULL */
	char *qos;		/* "besteffort", "burstable", "guaranteed" */
};

enum gpu_display_state {
	GPU_DISPLAY_UNCHECKED = 0,	/* not asked (display "-") */
	GPU_DISPLAY_UP,			/* an X client got an answer */
	GPU_DISPLAY_DOWN,		/* no socket, or no answer */
	GPU_DISPLAY_UNKNOWN		/* a socket, but no X client on the node to ask */
};
const char *gpu_display_state_name(enum gpu_display_state);

struct gpu_report {
	struct gpu_device *gpus;
	size_t ngpus;
	struct gpu_process *procs;
	size_t nprocs;
	char *apps_error;	/* the process query failed: why (procs is empty) */
	enum gpu_display_state display;
	char *display_name;	/* ":0" */
	char *display_detail;	/* "xset answered", "no socket /tmp/.X11-unix/X0", ... */
};
void gpu_report_free(struct gpu_report *);

/* ---- the parser (pure; errors name the line) ---- */

/*
 * nvidia-smi --query-gpu=index,uuid,name,utilization.gpu,
 * utilization.memory,memory.used,memory.total,temperature.gpu,power.draw,
 * power.limit,clocks.sm,pstate --format=csv,noheader,nounits: one GPU a
 * line; a name may hold commas. Appends to *gpus. first_line numbers the
 * lines in errors ("line 7: field 4 (utilization.gpu): \"abc\" is not a
 * number"). 0, or -1 with *cause.
 */
#define GPU_QUERY_FIELDS "index,uuid,name,utilization.gpu,utilization.memory," \
	"memory.used,memory.total,temperature.gpu,power.draw,power.limit,clocks.sm,pstate"
#define GPU_APPS_FIELDS "gpu_uuid,pid,used_memory,process_name"
#define GPU_MAX_GPUS 64
#define GPU_MAX_PROCS 4096
int gpu_parse_query(const char *text, size_t len, int first_line, struct gpu_device **gpus,
    size_t *ngpus, char **cause);
/* --query-compute-apps=gpu_uuid,pid,used_memory,process_name; appends. */
int gpu_parse_apps(const char *text, size_t len, int first_line, struct gpu_process **procs,
    size_t *nprocs, char **cause);
/* nvidia-smi -L: attaches MIG devices to the GPUs of the same UUID. Lenient. */
void gpu_parse_list(const char *text, size_t len, struct gpu_device *gpus, size_t ngpus);

/*
 * A process's /proc/PID/cgroup (v1 or v2; kubelet's systemd or cgroupfs
 * driver; containerd, CRI-O or Docker; kubelet nested in a container):
 * the pod UID (dashes restored), container ID and QoS class. 1 found,
 * 0 not a pod (fields NULL). Lines it cannot read are skipped.
 */
struct gpu_cgroup_ref {
	char *pod_uid;
	char *container_id;
	char *qos;
};
int gpu_parse_cgroup(const char *text, size_t len, struct gpu_cgroup_ref *);
void gpu_cgroup_ref_clear(struct gpu_cgroup_ref *);

/*
 * The whole answer of paia-gpu-probe for nonce (sections marked
 * "@@paia NONCE name"). Fails when it is not a probe's answer, was cut
 * (no end marker), its GPU list is malformed, or nvidia-smi failed (its
 * own message, e.g. "NVIDIA-SMI has failed because it couldn't
 * communicate with the NVIDIA driver"). A failed or malformed process
 * list (process names are users') only sets apps_error. Caller frees.
 */
struct gpu_report *gpu_answer_parse(const char *answer, size_t len, const char *nonce,
    char **cause);

/*
 * The command that runs the probe on a node: sh -c '<the script>'
 * paia-gpu-probe NONCE SECONDS PROC_ROOT DISPLAY, one round; with nonce
 * NULL, --serve instead of NONCE: a round for each nonce line written to
 * its stdin (what the prober runs). proc_root NULL is /proc; display NULL
 * is ":0", "-" skips the display check. Caller frees.
 */
char *gpu_probe_command(const char *nonce, int seconds, const char *proc_root,
    const char *display);
/* The script itself (gpu/paia-gpu-probe less comments), static. */
const char *gpu_probe_script(void);

/* ---- the prober ---- */

struct gpu_options {
	const char *known_hosts;	/* required */
	int accept_new_hostkeys;	/* record first-seen host keys (accept-new) */
	int interval_ms;		/* between round starts; 0: 5000 */
	int timeout_ms;			/* a node's round, connect included; 0: 4000 */
	size_t answer_cap;		/* bytes; 0: 1 MiB */
	const char *proc_root;		/* on the nodes; NULL: /proc */
	const char *display;		/* NULL: ":0"; "-": do not check */
};

struct gpu_node_options {
	const char *name;	/* unique; NULL: host:port */
	const char *host;
	int port;		/* 0: 22 */
	const char *user;
	const char *key_file;	/* NULL: the ssh-agent */
};

/*
 * A node as the prober sees it. report is the last good one (NULL until
 * the first); it stays while the node is stale. The strings and report
 * are owned by the prober and valid until the next round ends for that
 * node (or the node is removed).
 */
struct gpu_node {
	const char *name;
	const char *host;
	int port;
	const struct gpu_report *report;
	int64_t report_ms;	/* wall clock of report (ms), 0 when none */
	int64_t report_mono_ms;	/* monotonic clock of report, for its age */
	const char *stale;	/* why the last round failed; NULL when it succeeded */
	int64_t round_ms;	/* how long the last round took */
	uint64_t rounds_ok;
	uint64_t rounds_failed;
	int busy;		/* a round is running */
};
/* Age of the node's report in ms at monotonic time now_mono_ms, or -1. */
int64_t gpu_node_age_ms(const struct gpu_node *, int64_t now_mono_ms);

struct gpu_prober;
/*
 * Called in the loop when a node's round ends (ok or stale). It may
 * remove nodes or free the prober: done when it returns.
 */
typedef void gpu_round_cb(struct gpu_prober *, const struct gpu_node *, void *arg);
/* NULL with *cause when the options are unusable. */
struct gpu_prober *gpu_prober_new(struct event_base *, const struct gpu_options *,
    gpu_round_cb *, void *arg, char **cause);
void gpu_prober_free(struct gpu_prober *);
/* Add a node (strings copied); -1 with *cause for a duplicate name or bad options. */
int gpu_prober_add(struct gpu_prober *, const struct gpu_node_options *, char **cause);
/* Remove a node: its session closes, no callback. 0, or -1 if unknown. */
int gpu_prober_remove(struct gpu_prober *, const char *name);
/* Rounds every interval, the first at once. */
void gpu_prober_start(struct gpu_prober *);
/* One round now (nodes still busy with the last round are skipped). */
void gpu_prober_round(struct gpu_prober *);
size_t gpu_prober_count(const struct gpu_prober *);
const struct gpu_node *gpu_prober_node(const struct gpu_prober *, size_t i);
const struct gpu_node *gpu_prober_find(const struct gpu_prober *, const char *name);

#endif
