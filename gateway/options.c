/*
 * options.c: the configuration schema shared by paia-gateway and
 * paiactl: every known key of paia-gateway.conf(5) with its type,
 * default and bounds. [kafka] is passthrough: each kafka.X is handed to
 * librdkafka, which names a bad one. Names that become ids, topic names
 * or parts of log lines are CONFIG_NAME (Kafka's charset and length).
 */
#include "config.h"
#include "gateway.h"
#include "options.h"

#include <stdlib.h>
#include <unistd.h>

const struct config_key options_schema[] = {
	{ "gateway", "state_dir", CONFIG_STRING, "/var/lib/paia", 0, 0, NULL,
	  "task folders, control socket, embedded.json" },
	{ "gateway", "instance_id", CONFIG_NAME, "", 0, 64, NULL,
	  "stable instance name; transactional.id is <group>-<instance_id> (default: host name)" },
	{ "gateway", "tasks_topic", CONFIG_NAME, "paia.tasks", 1, 249, NULL, "topic tasks are consumed from" },
	{ "gateway", "results_topic", CONFIG_NAME, "paia.results", 1, 249, NULL, "topic results go to" },
	{ "gateway", "dlq_topic", CONFIG_NAME, "paia.tasks.dlq", 1, 249, NULL, "dead-letter topic" },
	{ "gateway", "max_inflight", CONFIG_INT, "8", 1, 10000, NULL, "tasks running at once; intake pauses when full" },
	{ "gateway", "prefetch", CONFIG_INT, "16", 0, 100000, NULL,
	  "tasks received ahead and held ready to start beyond max_inflight" },
	{ "gateway", "batch_ms", CONFIG_INT, "100", 1, 60000, NULL, "longest wait before a transaction is started" },
	{ "gateway", "batch_max", CONFIG_INT, "500", 1, 100000, NULL, "records that start a transaction at once" },
	{ "gateway", "transaction_max_records", CONFIG_INT, "10000", 1, 1000000, NULL,
	  "records merged into one transaction at most (queued batches are merged)" },
	{ "gateway", "grace_s", CONFIG_INT, "30", 0, 86400, NULL, "SIGTERM: time in-flight tasks get to finish" },
	{ "gateway", "history", CONFIG_INT, "1000", 0, 1000000, NULL, "finished tasks kept in memory (and their folders)" },
	{ "gateway", "revoke_commit_timeout_ms", CONFIG_INT, "10000", 0, 600000, NULL,
	  "on revoke, how long to wait for done tasks to commit before handing partitions over" },
	{ "gateway", "log_level", CONFIG_ENUM, "info", 0, 0, "debug|info|warn|error", "log threshold" },
	{ "storage", "result_prefix", CONFIG_STRING, "", 0, 0, NULL, "URL prefix for results when a task has none" },
	{ "storage", "file_root", CONFIG_STRING, "", 0, 0, NULL,
	  "file:// URLs must lie below this folder (empty: file:// refused)" },
	{ "storage", "max_download_bytes", CONFIG_INT, "1073741824", 1, INT64_MAX, NULL, "largest program or model" },
	{ "storage", "retries", CONFIG_INT, "5", 0, 100, NULL, "retries of a failed transfer" },
	{ "storage", "backoff_ms", CONFIG_INT, "200", 1, 600000, NULL, "first retry delay" },
	{ "storage", "backoff_max_ms", CONFIG_INT, "10000", 1, 3600000, NULL, "longest retry delay" },
	{ "storage", "connect_timeout_s", CONFIG_INT, "10", 1, 3600, NULL, "connect timeout" },
	{ "storage", "low_speed_s", CONFIG_INT, "30", 1, 3600, NULL, "abort a transfer slower than 1 KB/s for this long" },
	{ "storage", "ca_file", CONFIG_STRING, "", 0, 0, NULL, "CA bundle for https (default: the system's)" },
	{ "storage", "upload_limit_kib_s", CONFIG_INT, "0", 0, INT64_MAX / 1024, NULL,
	  "cap on each upload's rate in KiB/s (0: none)" },
	{ "storage", "download_limit_kib_s", CONFIG_INT, "0", 0, INT64_MAX / 1024, NULL,
	  "cap on each download's rate in KiB/s (0: none)" },
	{ "storage", "s3_endpoint", CONFIG_STRING, "", 0, 0, NULL,
	  "S3 endpoint http(s)://host[:port] for s3:// URLs (empty: https://s3.<region>.amazonaws.com)" },
	{ "storage", "s3_region", CONFIG_STRING, "us-east-1", 0, 0, NULL, "region in SigV4 signatures" },
	{ "storage", "s3_path_style", CONFIG_BOOL, "true", 0, 0, NULL,
	  "address buckets as host/bucket/key (false: bucket.host/key)" },
	{ "storage", "s3_access_key", CONFIG_STRING, "", 0, 0, NULL,
	  "S3 access key id (empty: anonymous requests)" },
	{ "storage", "s3_secret_key", CONFIG_STRING, "", 0, 0, NULL, "S3 secret access key" },
	{ "storage", "s3_secret_key_file", CONFIG_STRING, "", 0, 0, NULL,
	  "file holding the S3 secret access key (instead of s3_secret_key)" },
	{ "storage", "multipart_threshold_mb", CONFIG_INT, "64", 5, 5120, NULL,
	  "s3:// uploads larger than this many MiB go up in parts" },
	{ "storage", "multipart_part_mb", CONFIG_INT, "16", 5, 5120, NULL, "size of a multipart upload's parts in MiB" },
	{ "runner", "type", CONFIG_ENUM, "local", 0, 0, "local|k8s",
	  "where games run: a child process, or a pod on Kubernetes ([k8s])" },
	{ "runner", "command", CONFIG_STRING, "", 0, 0, NULL,
	  "game command for the local runner (required; --embedded uses the bundled paia-demo-game)" },
	{ "runner", "default_timeout_s", CONFIG_INT, "600", 1, 604800, NULL, "timeout of a task without timeout_s" },
	{ "runner", "max_timeout_s", CONFIG_INT, "3600", 1, 604800, NULL, "cap on a task's timeout_s" },
	{ "runner", "max_attempts", CONFIG_INT, "3", 1, 100, NULL,
	  "runs of a task interrupted (crash, rebalance) before it ends as error" },
	{ "runner", "journal_dir", CONFIG_STRING, "", 0, 0, NULL,
	  "launch claims, one file per task attempt (default: <state_dir>/launched; "
	  "share it between instances of one group on a host)" },
	{ "runner", "kill_grace_s", CONFIG_INT, "5", 0, 3600, NULL, "SIGTERM to SIGKILL delay" },
	{ "runner", "cpu_s", CONFIG_INT, "0", 0, INT64_MAX, NULL, "RLIMIT_CPU of a game (0: none)" },
	{ "runner", "memory_mb", CONFIG_INT, "0", 0, INT64_MAX, NULL, "RLIMIT_AS of a game in MiB (0: none)" },
	{ "k8s", "kubeconfig", CONFIG_STRING, "", 0, 0, NULL,
	  "kubeconfig file (empty: in-cluster service account, else $KUBECONFIG or ~/.kube/config)" },
	{ "k8s", "context", CONFIG_STRING, "", 0, 0, NULL, "kubeconfig context (empty: current-context)" },
	{ "k8s", "namespace", CONFIG_STRING, "", 0, 0, NULL,
	  "namespace of game pods (empty: the context's or service account's)" },
	{ "k8s", "pod_template", CONFIG_STRING, "", 0, 0, NULL,
	  "game pod template (default: the installed game-pod.json)" },
	{ "k8s", "pod_name_prefix", CONFIG_STRING, "paia", 0, 0, NULL,
	  "pods are named <prefix>-<task>-<attempt>; deployments sharing a namespace need their own" },
	{ "k8s", "images", CONFIG_STRING, "", 0, 0, NULL, "GAME=IMAGE pairs, comma separated" },
	{ "k8s", "default_image", CONFIG_STRING, "", 0, 0, NULL, "image of games not in k8s.images" },
	{ "k8s", "param_annotations", CONFIG_STRING, "", 0, 0, NULL,
	  "annotation prefixes a task may set on its pod via params.pod_annotations (empty: none)" },
	{ "k8s", "managed_by", CONFIG_STRING, "", 0, 0, NULL,
	  "value of the paia.io/managed-by label (default: kafka.group.id)" },
	{ "k8s", "unschedulable_s", CONFIG_INT, "300", 1, 86400, NULL,
	  "a pod unschedulable this long is an infra failure (next attempt)" },
	{ "k8s", "pod_ttl_s", CONFIG_INT, "0", 0, 604800, NULL,
	  "finished pods are deleted this long after their result is committed" },
	{ "k8s", "orphan_ttl_s", CONFIG_INT, "3600", 1, 604800, NULL,
	  "finished pods no task claims are deleted after this long" },
	{ "k8s", "deadline_slack_s", CONFIG_INT, "30", 0, 3600, NULL,
	  "a pod still running this long after its activeDeadlineSeconds is stopped by the gateway (timeout)" },
	{ "k8s", "delete_grace_s", CONFIG_INT, "10", 0, 3600, NULL, "grace period when stopping a pod" },
	{ "k8s", "qps", CONFIG_INT, "50", 1, 10000, NULL, "API requests per second (token bucket)" },
	{ "k8s", "burst", CONFIG_INT, "100", 1, 10000, NULL, "API request burst" },
	{ "k8s", "allow_insecure", CONFIG_BOOL, "false", 0, 0, NULL,
	  "accept insecure-skip-tls-verify or http:// API servers (logs a warning)" },
	{ "health", "listen", CONFIG_STRING, "", 0, 0, NULL,
	  "HOST:PORT serving /healthz and /metrics over HTTP (empty: off)" },
	{ "health", "interval_ms", CONFIG_INT, "10000", 100, 3600000, NULL,
	  "how often lag is measured and partitions are judged" },
	{ "health", "failures", CONFIG_INT, "3", 1, 1000, NULL,
	  "bad checks in a row before /healthz fails" },
	{ "health", "window", CONFIG_INT, "10", 2, 64, NULL, "checks in Burrow's evaluation window" },
	{ "health", "query_timeout_ms", CONFIG_INT, "5000", 100, 600000, NULL,
	  "timeout of one log-end query to the broker" },
	{ "control", "socket", CONFIG_STRING, "", 0, 0, NULL, "control socket path (default: <state_dir>/control.sock)" },
	{ "control", "group", CONFIG_STRING, "", 0, 0, NULL, "group allowed on the socket besides the owner" },
	{ NULL, NULL, CONFIG_STRING, NULL, 0, 0, NULL, NULL }
};

const char *options_passthrough[] = { "kafka", NULL };

char *
options_default_state_dir(int embedded)
{
	return util_state_dir_default(embedded);
}
