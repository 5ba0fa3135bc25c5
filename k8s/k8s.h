/*
 * k8s.h: PAIA's Kubernetes API client. It holds the connection settings
 * (kubeconfig or in-cluster service account), asynchronous REST calls
 * on the shared libcurl multi (common/evcurl.c), the watch stream
 * decoder, a pod model that keeps only the fields a controller reads,
 * and an informer (list + watch + bookmarks, relist on 410 Gone) that
 * caches such objects.
 *
 * It knows nothing of tasks, Kafka or screens: callers get objects,
 * events and decoded Status errors, verbatim as the API server sent
 * them, and decide what they mean.
 *
 * @locality: everything runs in the thread of the libevent loop given
 * to k8s_client_new(); no call blocks (the token file is re-read with a
 * stat(2) and a small read when it changed). The config and decoder
 * functions have no thread affinity.
 */
#ifndef PAIA_K8S_H
#define PAIA_K8S_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evcurl;

/* ---- errors ---- */

/*
 * A decoded metav1.Status, or what stands for one when the server sent
 * none. message is verbatim (e.g. "pods is forbidden: User
 * \"system:serviceaccount:paia:gw\" cannot watch resource \"pods\" in
 * API group \"\" in the namespace \"paia\""), so a caller can name the
 * permission it misses. Strings are owned by the struct (never NULL
 * once filled; "" when absent); k8s_status_clear() frees them.
 */
struct k8s_status {
	int code;	/* HTTP code (403, 409, 410, ...); 0: no HTTP answer */
	char *reason;	/* "Forbidden", "AlreadyExists", "Expired", ... */
	char *message;
};
void k8s_status_clear(struct k8s_status *);
/* Decode a Status JSON object; 0, or -1 if it is not one (st untouched). */
int k8s_status_decode(const char *json, size_t len, struct k8s_status *st);

enum k8s_error {
	K8S_OK = 0,
	K8S_ERR_TRANSPORT,	/* connect, TLS, timeout, reset; message says */
	K8S_ERR_AUTH,		/* 401, or the credentials could not be read */
	K8S_ERR_FORBIDDEN,	/* 403 */
	K8S_ERR_NOT_FOUND,	/* 404 */
	K8S_ERR_EXISTS,		/* 409 AlreadyExists: a create found the object */
	K8S_ERR_CONFLICT,	/* 409 otherwise (resourceVersion conflict) */
	K8S_ERR_GONE,		/* 410: resourceVersion expired, relist */
	K8S_ERR_INVALID,	/* 400, 422: the request is wrong */
	K8S_ERR_THROTTLED,	/* 429 after every retry */
	K8S_ERR_SERVER,		/* 5xx after every retry */
	K8S_ERR_HTTP,		/* any other non-2xx */
	K8S_ERR_DECODE		/* the answer is not what the API promises */
};
const char *k8s_error_name(enum k8s_error);

/* ---- configuration ---- */

/*
 * Connection settings: API server URL, CA, client certificate or
 * bearer token (a token file is re-read when it changes: service
 * account tokens rotate), default namespace. Certificates and keys
 * given as files are read at load time; all errors name the file and
 * the field ("kubeconfig /x: users[name=u].user.client-key-data:
 * invalid base64 at byte 12").
 *
 * TLS is always verified. A kubeconfig asking for
 * insecure-skip-tls-verify (or an http:// server) is refused unless
 * K8S_CONFIG_ALLOW_INSECURE is given, and then logs a warning.
 * K8S_CONFIG_NO_FILES refuses every file reference (for fuzzing).
 */
#define K8S_CONFIG_ALLOW_INSECURE 0x1
#define K8S_CONFIG_NO_FILES 0x2
#define K8S_INCLUSTER_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct k8s_config;
/* Load a kubeconfig file; context NULL: its current-context. */
struct k8s_config *k8s_config_load_kubeconfig(const char *path, const char *context, int flags,
    char **cause);
/* The same from memory; path names it in errors and anchors relative paths. */
struct k8s_config *k8s_config_parse_kubeconfig(const char *text, size_t len, const char *path,
    const char *context, int flags, char **cause);
/*
 * In-cluster: KUBERNETES_SERVICE_HOST/PORT and dir/{token,ca.crt,
 * namespace}; dir NULL: K8S_INCLUSTER_DIR.
 */
struct k8s_config *k8s_config_load_incluster(const char *dir, int flags, char **cause);
/*
 * kubeconfig if path is set; else in-cluster when
 * KUBERNETES_SERVICE_HOST is set; else $KUBECONFIG (first entry) or
 * ~/.kube/config.
 */
struct k8s_config *k8s_config_load(const char *path, const char *context, int flags, char **cause);
void k8s_config_free(struct k8s_config *);
const char *k8s_config_server(const struct k8s_config *);
/* The context's namespace, the service account's, or "default". */
const char *k8s_config_namespace(const struct k8s_config *);
/* "kubeconfig PATH context NAME" or "in-cluster DIR", for messages. */
const char *k8s_config_describe(const struct k8s_config *);
/*
 * The bearer token to send, or NULL when the config has none (client
 * certificates); a token file is stat(2)ed at most every recheck_ms
 * (default 1000; 0: every call) and re-read when it changed. -1 with
 * *cause if the file cannot be read. The token stays owned by cfg and
 * valid until the next call; never log it.
 */
int k8s_config_token(struct k8s_config *, const char **token, char **cause);
void k8s_config_set_token_recheck(struct k8s_config *, int recheck_ms);

/* ---- client and requests ---- */

struct k8s_client_opts {
	double qps;		/* token bucket: requests per second; 0: 50 */
	int burst;		/* bucket size; 0: 100 */
	int max_retries;	/* on 429/5xx/transport; 0: 10; -1: none */
	uint32_t backoff_ms;	/* 0: 800 */
	uint32_t backoff_max_ms; /* 0: 30000 */
	long connect_timeout_s;	/* 0: 10 */
	long request_timeout_s;	/* buffered requests; 0: 60 */
	const char *user_agent;	/* NULL: "paia/VERSION" */
};

struct k8s_client;
/*
 * A client on base and the shared multi ec; takes cfg (freed with the
 * client). opts may be NULL.
 */
struct k8s_client *k8s_client_new(struct event_base *, struct evcurl *, struct k8s_config *cfg,
    const struct k8s_client_opts *);
/* Cancels every outstanding request (no callbacks). */
void k8s_client_free(struct k8s_client *);
struct k8s_config *k8s_client_config(struct k8s_client *);
struct event_base *k8s_client_base(struct k8s_client *);
struct k8s_client_stats {
	uint64_t requests;	/* attempts sent */
	uint64_t retries;
	uint64_t throttled;	/* requests that waited for the token bucket */
};
void k8s_client_stats(const struct k8s_client *, struct k8s_client_stats *);

/*
 * The outcome of a request, valid during the callback only. body is
 * NUL-terminated (empty for streams). On error, status holds the
 * server's Status (or a description of the transport failure).
 */
struct k8s_response {
	enum k8s_error error;
	long http_code;		/* 0 if no HTTP answer */
	struct k8s_status status;
	const char *body;
	size_t body_len;
	unsigned retries;
	long retry_after_s;	/* last Retry-After seen, -1 none */
};
typedef void k8s_response_cb(const struct k8s_response *, void *arg);
/*
 * A chunk of a 2xx streamed body; return 0 to go on, K8S_CHUNK_PAUSE to
 * pause the stream without taking this chunk (on a pausable request:
 * the same data comes again after k8s_req_resume), anything else to stop.
 */
typedef int k8s_chunk_cb(const char *data, size_t len, void *arg);
#define K8S_CHUNK_PAUSE 2

enum k8s_method { K8S_GET, K8S_POST, K8S_PUT, K8S_PATCH_MERGE, K8S_DELETE };

struct k8s_req_opts {
	k8s_chunk_cb *chunk;	/* stream the 2xx body to it instead of buffering */
	long timeout_s;		/* 0: request_timeout_s, or none for streams */
	int no_retry;		/* return 429/5xx/transport errors at once */
	/*
	 * The stream may pause (K8S_CHUNK_PAUSE): it gets an HTTP/1.1
	 * connection of its own, so a paused stream holds back nothing else
	 * (the API server's TCP window fills, it stops sending).
	 */
	int pausable;
};

struct k8s_req;
/*
 * Send method path (starting with "/", query included) with a JSON
 * body (copied; NULL for none). 429 and 5xx are retried for every
 * method, honouring Retry-After, else with capped backoff and jitter;
 * connection failures are retried for all but POST (and for POST when
 * the connection was never made). done is called exactly once, unless
 * the request is cancelled first; the handle is freed after it returns.
 * A stream stopped by its chunk callback ends with K8S_OK.
 */
struct k8s_req *k8s_request(struct k8s_client *, enum k8s_method, const char *path,
    const char *body, size_t body_len, const struct k8s_req_opts *, k8s_response_cb *done,
    void *arg);
struct k8s_req *k8s_get(struct k8s_client *, const char *path, k8s_response_cb *, void *);
struct k8s_req *k8s_post(struct k8s_client *, const char *path, const char *json,
    k8s_response_cb *, void *);
/* PATCH with Content-Type application/merge-patch+json. */
struct k8s_req *k8s_patch_merge(struct k8s_client *, const char *path, const char *json,
    k8s_response_cb *, void *);
/* DELETE with DeleteOptions: grace_s < 0 and propagation NULL leave the defaults. */
struct k8s_req *k8s_delete(struct k8s_client *, const char *path, long grace_s,
    const char *propagation, k8s_response_cb *, void *);
/* Cancel: done is not called. Safe from inside the request's own callbacks. */
void k8s_req_cancel(struct k8s_req *);
/*
 * Go on with a stream its chunk callback paused; the paused chunk comes
 * again from the loop (an event of its own), never from inside this call.
 */
void k8s_req_resume(struct k8s_req *);
/* Percent-encode a query value (label selectors). Caller frees. */
char *k8s_query_escape(const char *);

/* ---- watch stream decoder ---- */

enum k8s_event_type {
	K8S_EVENT_ADDED, K8S_EVENT_MODIFIED, K8S_EVENT_DELETED, K8S_EVENT_BOOKMARK,
	K8S_EVENT_ERROR
};
const char *k8s_event_type_name(enum k8s_event_type);

/*
 * One watch event. object is the raw JSON of the event's object (not
 * NUL-terminated, valid during the callback only; the decoder does not
 * parse it beyond finding its end). BOOKMARK: resource_version is its
 * metadata.resourceVersion. ERROR: status is the decoded Status (code
 * 410: the resourceVersion expired, relist).
 */
struct k8s_watch_event {
	enum k8s_event_type type;
	const char *object;
	size_t object_len;
	const char *resource_version;	/* BOOKMARK only, else NULL */
	const struct k8s_status *status;	/* ERROR only, else NULL */
	uint64_t offset;		/* of the event's line in the stream */
};
/* Return non-zero to stop decoding (feed returns 1 at once). */
typedef int k8s_watch_event_cb(const struct k8s_watch_event *, void *arg);

/*
 * Incremental decoder of a watch stream: newline-delimited JSON
 * events, fed in chunks split anywhere. Complete lines inside a chunk
 * are decoded in place; only a line split across chunks is copied
 * (buffer grows geometrically, so an object of megabytes costs linear
 * time). max_line 0: 128 MiB.
 */
struct k8s_watch_decoder;
struct k8s_watch_decoder *k8s_watch_decoder_new(k8s_watch_event_cb *, void *arg, size_t max_line);
void k8s_watch_decoder_free(struct k8s_watch_decoder *);
/*
 * 0: fed; 1: the callback asked to stop; -1: malformed stream, *cause
 * names the byte offset ("watch event at byte 1234: ..."). After -1
 * the decoder refuses further input.
 */
int k8s_watch_decoder_feed(struct k8s_watch_decoder *, const char *data, size_t len, char **cause);
/* End of stream: a trailing partial event is an error (-1). */
int k8s_watch_decoder_finish(struct k8s_watch_decoder *, char **cause);
void k8s_watch_decoder_reset(struct k8s_watch_decoder *);
uint64_t k8s_watch_decoder_offset(const struct k8s_watch_decoder *);

/* ---- cached objects ---- */

/*
 * What every cached object starts with (like struct sockaddr): the
 * informer reads these; a kind's struct embeds it first.
 */
struct k8s_object {
	const char *namespace;	/* "" for cluster-scoped kinds */
	const char *name;
	const char *uid;
	const char *resource_version;
	const char *deletion_timestamp;	/* NULL unless being deleted */
};

/* How an informer lists, extracts and frees one kind. */
struct k8s_kind {
	const char *name;	/* "pods": for messages */
	const char *api_path;	/* "/api/v1" */
	const char *resource;	/* "pods" */
	/* Keep what matters of one object's JSON; NULL with *cause if malformed. */
	struct k8s_object *(*extract)(const char *json, size_t len, const void *arg, char **cause);
	void (*free)(struct k8s_object *);
};

struct k8s_label {
	const char *key;
	const char *value;
};

/* status.containerStatuses[i], reduced. */
struct k8s_container_state {
	const char *name;
	int ready;
	int restart_count;
	const char *waiting_reason;	/* "ImagePullBackOff", ...; NULL unless waiting */
	const char *waiting_message;
	int running;			/* state.running present */
	int terminated;			/* state.terminated present */
	int exit_code;
	int signal;			/* state.terminated.signal; 0: none */
	const char *terminated_reason;	/* "Completed", "Error", "OOMKilled", ... */
	int started;			/* started: true */
	int restartable;		/* init containers: a sidecar (restartPolicy Always) */
};

/*
 * A pod, reduced to what a controller of game pods reads (a few hundred
 * bytes against ~10 KB of JSON). One allocation; every string is
 * NUL-terminated, NULL when the field is absent.
 */
struct k8s_pod {
	struct k8s_object meta;
	struct k8s_label *labels;
	size_t nlabels;
	struct k8s_label *annotations;	/* only those the filter keeps */
	size_t nannotations;
	const char *node_name;		/* spec.nodeName */
	const char *phase;		/* Pending, Running, Succeeded, Failed, Unknown */
	const char *reason;		/* status.reason: "Evicted", ... */
	const char *message;
	const char *scheduled_status;	/* PodScheduled condition: "True"/"False" */
	const char *scheduled_reason;	/* "Unschedulable" */
	const char *scheduled_message;	/* "0/3 nodes are available: ..." */
	const char *initialized_status;	/* Initialized condition: "True"/"False" */
	const char *ready_status;	/* Ready condition */
	const char *created;		/* metadata.creationTimestamp (RFC 3339) */
	const char *start_time;		/* status.startTime */
	struct k8s_container_state *containers;		/* status.containerStatuses */
	size_t ncontainers;
	struct k8s_container_state *init_containers;	/* status.initContainerStatuses */
	size_t ninit_containers;
	int spec_containers;		/* len(spec.containers) */
	int spec_init_containers;	/* len(spec.initContainers) */
	int spec_sidecars;		/* of those, restartPolicy Always */
};

/*
 * Which annotations a pod keeps: exact keys, or prefixes ending in
 * '/' or '*' ("paia.io/" keeps every paia.io/ key). NULL: none.
 */
struct k8s_pod_filter {
	const char *const *annotations;
};

/* Extract a pod from its JSON (only the fields above are decoded). */
struct k8s_pod *k8s_pod_extract(const char *json, size_t len, const struct k8s_pod_filter *,
    char **cause);
void k8s_pod_free(struct k8s_pod *);
const char *k8s_pod_label(const struct k8s_pod *, const char *key);
const char *k8s_pod_annotation(const struct k8s_pod *, const char *key);
/* The kind for informers of pods; its extract's arg is a struct k8s_pod_filter (or NULL). */
extern const struct k8s_kind k8s_pod_kind;

/* ---- podstatus.c: how kubectl shows a pod ---- */

/*
 * The STATUS, READY and RESTARTS columns of "kubectl get pods", by
 * kubectl's printPod rules (k8s.io/kubernetes printers.go): the phase,
 * or status.reason (Evicted, DeadlineExceeded, NodeLost), or
 * SchedulingGated; an init container's Init:N/M, Init:<reason>,
 * Init:ExitCode:N, Init:Signal:N; a container's waiting reason
 * (ContainerCreating, ErrImagePull, ImagePullBackOff, CrashLoopBackOff)
 * or terminated reason (Completed, Error, OOMKilled), ExitCode:N,
 * Signal:N; Running or NotReady when a container still runs after
 * another completed; Terminating while being deleted and not yet
 * finished (Unknown for a node lost). Pure.
 */
struct k8s_pod_summary {
	char status[64];
	int ready;		/* containers ready (sidecars counted) ... */
	int total;		/* ... of these */
	int restarts;
};
void k8s_pod_summarize(const struct k8s_pod *, struct k8s_pod_summary *);

/* ---- node.c: nodes ---- */

/* A node, reduced to what a client reaching nodes by address reads. One allocation. */
struct k8s_node {
	struct k8s_object meta;		/* namespace "" */
	const char *internal_ip;	/* status.addresses[type=InternalIP]; NULL: none */
	long long capacity;		/* status.capacity of the resource asked for; 0: none */
	int unschedulable;		/* spec.unschedulable (cordoned) */
};
/* Extract a node; resource (e.g. "nvidia.com/gpu", or NULL) names the capacity to read. */
struct k8s_node *k8s_node_extract(const char *json, size_t len, const char *resource,
    char **cause);
void k8s_node_free(struct k8s_node *);
/* The kind for informers of nodes (cluster-scoped); its extract's arg is the resource name. */
extern const struct k8s_kind k8s_node_kind;

/* ---- podspec.c: the pod builder ---- */

/*
 * Fill a pod template (JSON whose ${NAME} placeholders stand in strings
 * or bare): vars is NULL-terminated NAME, value pairs; each value goes
 * in escaped for a JSON string. Returns the pod's JSON (caller frees),
 * or NULL with *cause naming the template (name) and an unknown
 * placeholder or where the result stops being JSON.
 */
char *k8s_pod_build(const char *template, const char *name, const char *const *vars,
    char **cause);

/* ---- pods API ---- */

/*
 * Create a pod from its JSON in namespace ns. A pod of that name
 * already there ends with K8S_ERR_EXISTS (409 AlreadyExists), so the
 * caller can adopt it. The created pod's JSON is the response body.
 */
struct k8s_req *k8s_pod_create(struct k8s_client *, const char *ns, const char *json,
    k8s_response_cb *, void *);
struct k8s_req *k8s_pod_get(struct k8s_client *, const char *ns, const char *name,
    k8s_response_cb *, void *);
/* grace_s < 0: the pod's own terminationGracePeriodSeconds. */
struct k8s_req *k8s_pod_delete(struct k8s_client *, const char *ns, const char *name,
    long grace_s, k8s_response_cb *, void *);
struct k8s_pod_log_opts {
	const char *container;	/* NULL: the only one */
	int follow;
	long since_seconds;	/* <= 0: unset */
	long tail_lines;	/* < 0: unset */
	long limit_bytes;	/* <= 0: unset */
};
/*
 * Stream a pod's log to chunk; done ends it (follow: when the container
 * stops). The request is pausable (see k8s_req_opts).
 */
struct k8s_req *k8s_pod_logs(struct k8s_client *, const char *ns, const char *name,
    const struct k8s_pod_log_opts *, k8s_chunk_cb *chunk, k8s_response_cb *done, void *);

/* ---- informer ---- */

/*
 * Handlers, called from the loop. Objects belong to the cache: a
 * handler may read them during the call only (the old object of an
 * update and a deleted object are freed right after). A handler may
 * call k8s_informer_free() (the free is deferred).
 */
struct k8s_informer_handlers {
	void (*add)(const struct k8s_object *, void *arg);
	void (*update)(const struct k8s_object *old, const struct k8s_object *obj, void *arg);
	/* final_unknown: synthesised after a relist, obj is its last known state. */
	void (*del)(const struct k8s_object *, int final_unknown, void *arg);
	/* After each complete (re)list has been applied to the cache. */
	void (*synced)(void *arg);
	/*
	 * The server refused the list or watch for good (401, 403, 404,
	 * 400...): the informer has stopped. status->message is verbatim;
	 * verb is "list" or "watch".
	 */
	void (*fatal)(const char *verb, const struct k8s_status *, void *arg);
};

struct k8s_informer_opts {
	const struct k8s_kind *kind;	/* &k8s_pod_kind */
	const void *kind_arg;		/* passed to kind->extract */
	const char *namespace;		/* NULL or "": all namespaces */
	const char *label_selector;	/* NULL: everything */
	const char *field_selector;
	unsigned page_size;		/* list limit; 0: 500 */
	unsigned watch_timeout_s;	/* 0: random in [300, 600) like client-go */
	uint32_t backoff_ms;		/* 0: 800 */
	uint32_t backoff_max_ms;	/* 0: 30000 */
	struct k8s_informer_handlers h;
	void *arg;
};

struct k8s_informer_stats {
	uint64_t lists;		/* complete lists */
	uint64_t list_pages;
	uint64_t watches;	/* watch requests started */
	uint64_t relists;	/* lists after the first (410, errors) */
	uint64_t events;	/* watch events applied */
	uint64_t bookmarks;
	uint64_t errors;	/* failed lists/watches, retried */
	uint64_t synthesised_deletes;
};

/*
 * An informer of one kind: paginated list, then watch from the list's
 * resourceVersion with bookmarks; the stream's end (timeoutSeconds)
 * re-watches from the last resourceVersion seen; 410 Gone relists and
 * synthesises deletes for objects missing from the new list; other
 * failures retry with backoff (0.8 s doubling to 30 s, jittered). The
 * cache is a hash table keyed by namespace/name. Strings in opts are
 * copied. Nothing happens until k8s_informer_start().
 */
struct k8s_informer;
struct k8s_informer *k8s_informer_new(struct k8s_client *, const struct k8s_informer_opts *);
void k8s_informer_start(struct k8s_informer *);
void k8s_informer_free(struct k8s_informer *);
/* The cached object, or NULL; valid until the loop runs again. */
const struct k8s_object *k8s_informer_get(const struct k8s_informer *, const char *ns,
    const char *name);
size_t k8s_informer_count(const struct k8s_informer *);
/* Visit every cached object (the callback must not change the informer). */
void k8s_informer_foreach(const struct k8s_informer *,
    void (*)(const struct k8s_object *, void *), void *);
/* 1 once the first list has been applied. */
int k8s_informer_synced(const struct k8s_informer *);
/*
 * 1 while a complete (re)list is being applied: the add, update and del
 * handlers running are the list's (one loop turn; synced follows), not
 * the watch's. A handler that tells others of each change may hold them
 * back and tell "replaced" once, from synced (a list of 10,000 objects
 * is 10,000 calls at once).
 */
int k8s_informer_listing(const struct k8s_informer *);
/* The last resourceVersion seen (list, event or bookmark); "" before. */
const char *k8s_informer_resource_version(const struct k8s_informer *);
void k8s_informer_stats(const struct k8s_informer *, struct k8s_informer_stats *);
/* Drop the watch now and re-watch from the last resourceVersion (tests, tools). */
void k8s_informer_rewatch(struct k8s_informer *);

#endif
