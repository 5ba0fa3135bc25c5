/*
 * outcome.c: <task folder>/.outcome, how a task attempt's game ended,
 * written by the gateway before its outputs are uploaded, so that a
 * gateway restarted meanwhile (a crash, kill -9, a reboot while the
 * cloud was away) uploads them instead of running the game again.
 *
 * The file is JSON of the gateway's own (not a contract):
 *
 *   {"version":1,"task_id":"t1","attempt":2,"instance":"gw-a",
 *    "status":"succeeded","error_class":null,"error":null,
 *    "started_ms":1764403200123,"finished_ms":1764403260456}
 *
 * It lies in the task folder's root, which is the gateway's: the game
 * writes output/ only (the sandbox binds nothing else writable; a pod
 * sees output/ alone), so it cannot forge one. It is written to a
 * temporary name, synced and renamed into place, the folder synced too:
 * after a crash it is either whole or absent. It is read without
 * following links, as a regular file of at most OUTCOME_MAX bytes, and
 * decoded strictly; anything else is ignored (the attempt then runs
 * again as the next one, as it would have without this file).
 *
 * Whether a file found applies to a task (its attempt still claimed by
 * this instance, no later attempt begun) is task.c's decision.
 */
#include "config.h"
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OUTCOME_VERSION 1
#define OUTCOME_MAX 65536
#define OUTCOME_NAME ".outcome"
#define OUTCOME_TMP ".outcome.tmp"

char *
outcome_encode(const struct outcome_record *o)
{
	cJSON *j = cJSON_CreateObject();
	const char *cls = proto_class_name(o->eclass);
	char *text, *s;

	cJSON_AddNumberToObject(j, "version", OUTCOME_VERSION);
	cJSON_AddStringToObject(j, "task_id", o->task_id);
	cJSON_AddNumberToObject(j, "attempt", o->attempt);
	cJSON_AddStringToObject(j, "instance", o->instance);
	cJSON_AddStringToObject(j, "status", proto_status_name(o->status));
	if (cls != NULL)
		cJSON_AddStringToObject(j, "error_class", cls);
	else
		cJSON_AddNullToObject(j, "error_class");
	if (o->error != NULL)
		cJSON_AddStringToObject(j, "error", o->error);
	else
		cJSON_AddNullToObject(j, "error");
	cJSON_AddNumberToObject(j, "started_ms", (double)o->started_ms);
	cJSON_AddNumberToObject(j, "finished_ms", (double)o->finished_ms);
	if ((text = cJSON_PrintUnformatted(j)) == NULL)
		fatalx("cannot print an outcome");
	s = xstrdup(text);
	cJSON_free(text);
	cJSON_Delete(j);
	return s;
}

/* A string member (NULL when null and nullable); -1 with *cause otherwise. */
static int
outcome_str(const cJSON *j, const char *name, int nullable, char **out, char **cause)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

	*out = NULL;
	if (nullable && cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || util_find_control(v->valuestring) != NULL) {
		xasprintf(cause, "field '%s' is not a string%s", name, nullable ? " or null" : "");
		return -1;
	}
	*out = xstrdup(v->valuestring);
	return 0;
}

/* A whole number member within [min, max]; -1 with *cause otherwise. */
static int
outcome_num(const cJSON *j, const char *name, double min, double max, int64_t *out,
    char **cause)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

	if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble ||
	    v->valuedouble < min || v->valuedouble > max) {
		xasprintf(cause, "field '%s' is not a whole number from %.0f to %.0f", name, min,
		    max);
		return -1;
	}
	*out = (int64_t)v->valuedouble;
	return 0;
}

int
outcome_decode(const char *buf, size_t len, struct outcome_record *o, char **cause)
{
	cJSON *j;
	char *status = NULL, *cls = NULL;
	int64_t version = 0, attempt = 0;
	int rc = -1;

	memset(o, 0, sizeof *o);
	if ((j = json_parse_object(buf, len, cause)) == NULL)
		return -1;
	if (outcome_num(j, "version", 1, 1000, &version, cause) != 0)
		goto out;
	if (version != OUTCOME_VERSION) {
		xasprintf(cause, "version %lld (this reads %d)", (long long)version, OUTCOME_VERSION);
		goto out;
	}
	if (outcome_str(j, "task_id", 0, &o->task_id, cause) != 0 ||
	    outcome_num(j, "attempt", 1, 2147483647, &attempt, cause) != 0 ||
	    outcome_str(j, "instance", 0, &o->instance, cause) != 0 ||
	    outcome_str(j, "status", 0, &status, cause) != 0 ||
	    outcome_str(j, "error_class", 1, &cls, cause) != 0 ||
	    outcome_str(j, "error", 1, &o->error, cause) != 0 ||
	    outcome_num(j, "started_ms", 0, 9007199254740992.0, &o->started_ms, cause) != 0 ||
	    outcome_num(j, "finished_ms", 0, 9007199254740992.0, &o->finished_ms, cause) != 0)
		goto out;
	o->attempt = (int)attempt;
	if (proto_status_parse(status, &o->status) != 0) {
		xasprintf(cause, "field 'status' is not a status");
		goto out;
	}
	o->eclass = ERROR_NONE;
	if (cls != NULL && proto_class_parse(cls, &o->eclass) != 0) {
		xasprintf(cause, "field 'error_class' is not an error class");
		goto out;
	}
	rc = 0;
out:
	free(status);
	free(cls);
	cJSON_Delete(j);
	if (rc != 0)
		outcome_clear(o);
	return rc;
}

void
outcome_clear(struct outcome_record *o)
{
	free(o->task_id);
	free(o->instance);
	free(o->error);
	memset(o, 0, sizeof *o);
}

int
outcome_write(const char *dir, const struct outcome_record *o, char **cause)
{
	char *text = outcome_encode(o);
	size_t len = strlen(text), off = 0;
	ssize_t n;
	int taskfd, fd = -1, rc = -1;

	if ((taskfd = taskdir_open(dir, cause)) < 0) {
		free(text);
		return -1;
	}
	/*
	 * Made new (O_EXCL: a link in its place is never followed nor written
	 * through); only a temporary file an earlier crash left (EEXIST: a
	 * file, a link, whatever) is removed, by its name, and the file made
	 * again. Removing first would cost a failing call every time.
	 */
	fd = openat(taskfd, OUTCOME_TMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0640);
	if (fd < 0 && errno == EEXIST) {
		if (unlinkat(taskfd, OUTCOME_TMP, 0) != 0 && errno != ENOENT) {
			xasprintf(cause, "%s/%s: %s", dir, OUTCOME_TMP, strerror(errno));
			goto out;
		}
		fd = openat(taskfd, OUTCOME_TMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0640);
	}
	if (fd < 0) {
		xasprintf(cause, "%s/%s: %s", dir, OUTCOME_TMP, strerror(errno));
		goto out;
	}
	while (off < len) {
		if ((n = write(fd, text + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			xasprintf(cause, "%s/%s: %s", dir, OUTCOME_TMP, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	/* Whole on disk before its name says so, and the name on disk too. */
	if (fsync(fd) != 0 || renameat(taskfd, OUTCOME_TMP, taskfd, OUTCOME_NAME) != 0 ||
	    fsync(taskfd) != 0) {
		xasprintf(cause, "%s/%s: %s", dir, OUTCOME_NAME, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlinkat(taskfd, OUTCOME_TMP, 0);
	close(taskfd);
	free(text);
	return rc;
}

int
outcome_read(const char *dir, struct outcome_record *o, char **cause)
{
	struct stat st;
	char *buf, *why = NULL;
	size_t len;
	int taskfd, fd;

	*cause = NULL;
	memset(o, 0, sizeof *o);
	if ((taskfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			xasprintf(cause, "%s: %s", dir, strerror(errno));
		return -1;
	}
	fd = openat(taskfd, OUTCOME_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	close(taskfd);
	if (fd < 0) {
		if (errno != ENOENT)
			xasprintf(cause, "%s/%s: %s", dir, OUTCOME_NAME, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > OUTCOME_MAX) {
		xasprintf(cause, "%s/%s: not a regular file of at most %d bytes", dir,
		    OUTCOME_NAME, OUTCOME_MAX);
		close(fd);
		return -1;
	}
	buf = util_read_fd(fd, OUTCOME_MAX, &len, &why);
	close(fd);
	if (buf == NULL) {
		xasprintf(cause, "%s/%s: %s", dir, OUTCOME_NAME, why);
		free(why);
		return -1;
	}
	if (outcome_decode(buf, len, o, &why) != 0) {
		xasprintf(cause, "%s/%s: %s", dir, OUTCOME_NAME, why);
		free(why);
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

void
outcome_remove(int taskfd)
{
	unlinkat(taskfd, OUTCOME_NAME, 0);
	unlinkat(taskfd, OUTCOME_TMP, 0);
}
