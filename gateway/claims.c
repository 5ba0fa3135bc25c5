/*
 * claims.c: the launch-claim journal, so that no game runs twice for
 * the same task attempt.
 *
 * Before anything of an attempt runs, a file <journal>/<task>.<attempt>
 * is created with O_EXCL (it holds the instance and the time, for
 * people). Finding one already there means a run of that attempt began
 * before and was interrupted (a crash, a revoked partition): its game
 * may have run in part, so this run becomes the next attempt
 * (docs/design.md section 7: infra failures retry as a new attempt). The claims of a task go
 * when its result has committed. The journal must outlive the process
 * (it is a folder on disk, runner.journal_dir); with runner.type = k8s
 * the pod names do this job and no claims are taken.
 *
 * It knows nothing of tasks beyond their id and attempt numbers.
 */
#include "config.h"
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *
claims_path(const char *journal, const char *task_id, int attempt)
{
	char *p;

	xasprintf(&p, "%s/%s.%d", journal, task_id, attempt);
	return p;
}

int
claims_take(const char *journal, const char *instance, const char *task_id, int *attempt,
    int first, long long max, char **cause)
{
	char *path, buf[128];
	int fd, n;

	for (;;) {
		if (*attempt - first >= max) {
			xasprintf(cause, "interrupted %d time%s (gateway crash or rebalance) by attempt "
			    "%d; runner.max_attempts is %lld", *attempt - first,
			    *attempt - first == 1 ? "" : "s", *attempt - 1, max);
			(*attempt)--;
			return -1;
		}
		path = claims_path(journal, task_id, *attempt);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd >= 0) {
			n = snprintf(buf, sizeof buf, "%s %" PRId64 "\n", instance, util_now_ms());
			if (write(fd, buf, (size_t)n) != n)
				log_warn("launch claim not written in full", "path=%s", log_q(path));
			close(fd);
			free(path);
			return 0;
		}
		if (errno != EEXIST) {
			xasprintf(cause, "launch claim %s: %s", path, strerror(errno));
			free(path);
			return -1;
		}
		free(path);
		log_warn("an earlier run of this attempt was interrupted; running the next attempt",
		    "task=%s attempt=%d next=%d", log_q(task_id), *attempt, *attempt + 1);
		(*attempt)++;
	}
}

void
claims_release(const char *journal, const char *task_id, int first, int last)
{
	char *path;
	int a;

	for (a = first; a <= last; a++) {
		path = claims_path(journal, task_id, a);
		if (unlink(path) != 0 && errno != ENOENT)
			log_warn("cannot remove a launch claim", "path=%s error=%s", log_q(path),
			    log_q(strerror(errno)));
		free(path);
	}
}

int
claims_held(const char *journal, const char *instance, const char *task_id, int attempt)
{
	char *path = claims_path(journal, task_id, attempt), *buf, *cause = NULL;
	size_t n = strlen(instance);
	int held;

	buf = util_read_file(path, 256, NULL, &cause);
	free(path);
	if (buf == NULL) {
		free(cause);
		return 0;
	}
	/* "<instance> <ms>\n": the first word names who claimed it. */
	held = strncmp(buf, instance, n) == 0 && buf[n] == ' ';
	free(buf);
	return held;
}

int
claims_exist(const char *journal, const char *task_id, int attempt)
{
	char *path = claims_path(journal, task_id, attempt);
	int found;

	found = access(path, F_OK) == 0 || errno != ENOENT;
	free(path);
	return found;
}
