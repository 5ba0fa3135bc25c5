/*
 * locate.c: where one gateway is. The caller's arguments (flags) win,
 * then the environment, then paia-gateway.conf (loaded by the caller),
 * then the embedded.json an embedded gateway writes into its state
 * folder, then defaults; docs/control.md lists the order for operators.
 *
 * It reads embedded.json at most once and only when an answer depends
 * on it, so a broken file does not stand in the way of a socket given
 * by flag. It connects to nothing.
 */
#include "config.h"
#include "client.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define CLIENT_EMBEDDED_MAX (1024 * 1024)

static const char *client_topic_keys[CLIENT_TOPICS] = {
	"tasks_topic", "results_topic", "dlq_topic"
};
static const char *client_topic_defaults[CLIENT_TOPICS] = {
	"paia.tasks", "paia.results", "paia.tasks.dlq"
};

const char *
client_from_name(enum client_from from)
{
	switch (from) {
	case CLIENT_FROM_ARG:
		return "argument";
	case CLIENT_FROM_ENV:
		return "environment";
	case CLIENT_FROM_CONFIG:
		return "config file";
	case CLIENT_FROM_EMBEDDED:
		return "embedded.json";
	case CLIENT_FROM_DEFAULT:
		break;
	}
	return "default";
}

/* The first of two environment variables set and not empty, or NULL. */
static const char *
client_locate_env(const char *a, const char *b)
{
	const char *s;

	if ((s = getenv(a)) != NULL && *s != '\0')
		return s;
	if ((s = getenv(b)) != NULL && *s != '\0')
		return s;
	return NULL;
}

/* A non-empty value of conf, or NULL. */
static const char *
client_locate_conf(const struct client_locate_args *args, const char *section, const char *key)
{
	const char *s;

	if (args->conf == NULL)
		return NULL;
	s = config_get(args->conf, section, key);
	return s != NULL && *s != '\0' ? s : NULL;
}

static void
client_locate_state(const struct client_locate_args *args, struct client_location *loc)
{
	const char *s;

	if (args->state_dir != NULL) {
		loc->state_dir = xstrdup(args->state_dir);
		loc->state_dir_from = CLIENT_FROM_ARG;
	} else if ((s = client_locate_env("PAIA_STATE_DIR", "PAIA_GATEWAY_STATE_DIR")) != NULL) {
		loc->state_dir = xstrdup(s);
		loc->state_dir_from = CLIENT_FROM_ENV;
	} else if (args->conf != NULL) {
		/* The schema's default (/var/lib/paia) when the file is silent. */
		loc->state_dir = xstrdup(config_get(args->conf, "gateway", "state_dir"));
		loc->state_dir_from = CLIENT_FROM_CONFIG;
	} else {
		loc->state_dir = util_state_dir_default(1);
		loc->state_dir_from = CLIENT_FROM_DEFAULT;
	}
}

static char *
client_locate_strdup(const cJSON *obj, const char *name)
{
	const char *s = client_json_str(obj, name);

	return s != NULL && *s != '\0' ? xstrdup(s) : NULL;
}

/* Read <state_dir>/embedded.json once; a missing file is not an error. */
static int
client_locate_embedded(struct client_location *loc, char **cause)
{
	cJSON *root;
	char *buf;
	size_t len, i;
	double pid;

	if (loc->embedded_read)
		return 0;
	loc->embedded_read = 1;
	xasprintf(&loc->embedded_path, "%s/embedded.json", loc->state_dir);
	if (access(loc->embedded_path, F_OK) != 0)
		return 0;
	if ((buf = util_read_file(loc->embedded_path, CLIENT_EMBEDDED_MAX, &len, cause)) == NULL)
		return -1;
	root = cJSON_ParseWithLength(buf, len);
	free(buf);
	if (!cJSON_IsObject(root)) {
		xasprintf(cause, "%s: not a JSON object", loc->embedded_path);
		cJSON_Delete(root);
		return -1;
	}
	loc->embedded_present = 1;
	loc->embedded_bootstrap = client_locate_strdup(root, "bootstrap_servers");
	loc->embedded_socket = client_locate_strdup(root, "control_socket");
	for (i = 0; i < CLIENT_TOPICS; i++)
		loc->embedded_topics[i] = client_locate_strdup(root, client_topic_keys[i]);
	if (client_json_num(root, "pid", &pid) == 0 && pid > 0 && pid < 1e9)
		loc->embedded_pid = (long)pid;
	cJSON_Delete(root);
	return 0;
}

int
client_location_embedded_stale(const struct client_location *loc)
{
	if (!loc->embedded_present || loc->embedded_pid <= 0)
		return 0;
	return kill((pid_t)loc->embedded_pid, 0) != 0 && errno == ESRCH;
}

static int
client_locate_socket(const struct client_locate_args *args, struct client_location *loc,
    char **cause)
{
	const char *s;

	if (args->socket != NULL) {
		loc->socket_path = xstrdup(args->socket);
		loc->socket_from = CLIENT_FROM_ARG;
	} else if ((s = client_locate_env("PAIA_SOCKET", "PAIA_CONTROL_SOCKET")) != NULL) {
		loc->socket_path = xstrdup(s);
		loc->socket_from = CLIENT_FROM_ENV;
	} else if ((s = client_locate_conf(args, "control", "socket")) != NULL) {
		loc->socket_path = xstrdup(s);
		loc->socket_from = CLIENT_FROM_CONFIG;
	} else {
		if (client_locate_embedded(loc, cause) != 0)
			return -1;
		if (loc->embedded_socket != NULL) {
			loc->socket_path = xstrdup(loc->embedded_socket);
			loc->socket_from = CLIENT_FROM_EMBEDDED;
		} else {
			xasprintf(&loc->socket_path, "%s/control.sock", loc->state_dir);
			loc->socket_from = CLIENT_FROM_DEFAULT;
		}
	}
	return 0;
}

static int
client_locate_kafka(const struct client_locate_args *args, struct client_location *loc,
    char **cause)
{
	const char *s;
	size_t i;

	if (client_locate_embedded(loc, cause) != 0)
		return -1;
	if (args->bootstrap != NULL) {
		loc->bootstrap = xstrdup(args->bootstrap);
		loc->bootstrap_from = CLIENT_FROM_ARG;
	} else if ((s = client_locate_conf(args, "kafka", "bootstrap.servers")) != NULL) {
		loc->bootstrap = xstrdup(s);
		loc->bootstrap_from = CLIENT_FROM_CONFIG;
	} else if (loc->embedded_bootstrap != NULL) {
		if (client_location_embedded_stale(loc)) {
			xasprintf(cause, "%s is stale: paia-gateway (pid %ld) is not running; "
			    "start it or give -b", loc->embedded_path, loc->embedded_pid);
			return -1;
		}
		loc->bootstrap = xstrdup(loc->embedded_bootstrap);
		loc->bootstrap_from = CLIENT_FROM_EMBEDDED;
	} else if (args->conf != NULL) {
		xasprintf(cause, "no Kafka bootstrap servers: %s has no kafka.bootstrap.servers "
		    "and %s is not there; give -b", args->config_path != NULL ? args->config_path :
		    "the config file", loc->embedded_path);
		return -1;
	} else {
		xasprintf(cause, "no Kafka bootstrap servers: give -b or -c, or start "
		    "paia-gateway --embedded (%s not found)", loc->embedded_path);
		return -1;
	}
	for (i = 0; i < CLIENT_TOPICS; i++) {
		if ((s = client_locate_conf(args, "gateway", client_topic_keys[i])) != NULL) {
			loc->topics[i] = xstrdup(s);
			loc->topics_from[i] = CLIENT_FROM_CONFIG;
		} else if (loc->embedded_topics[i] != NULL) {
			loc->topics[i] = xstrdup(loc->embedded_topics[i]);
			loc->topics_from[i] = CLIENT_FROM_EMBEDDED;
		} else {
			loc->topics[i] = xstrdup(client_topic_defaults[i]);
			loc->topics_from[i] = CLIENT_FROM_DEFAULT;
		}
	}
	return 0;
}

int
client_locate(const struct client_locate_args *args, int what, struct client_location *loc,
    char **cause)
{
	if (loc->state_dir == NULL)
		client_locate_state(args, loc);
	if ((what & CLIENT_LOCATE_SOCKET) && loc->socket_path == NULL &&
	    client_locate_socket(args, loc, cause) != 0)
		return -1;
	if ((what & CLIENT_LOCATE_KAFKA) && loc->bootstrap == NULL &&
	    client_locate_kafka(args, loc, cause) != 0)
		return -1;
	return 0;
}

void
client_location_clear(struct client_location *loc)
{
	size_t i;

	free(loc->state_dir);
	free(loc->socket_path);
	free(loc->bootstrap);
	free(loc->embedded_path);
	free(loc->embedded_socket);
	free(loc->embedded_bootstrap);
	for (i = 0; i < CLIENT_TOPICS; i++) {
		free(loc->topics[i]);
		free(loc->embedded_topics[i]);
	}
	memset(loc, 0, sizeof *loc);
}
