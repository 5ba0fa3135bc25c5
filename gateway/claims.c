/*
 * claims.c: the launch-claim journal, so that no game runs twice for
 * the same task attempt.
 *
 * Before anything of an attempt runs, a file <journal>/<task>.<attempt>
 * is created with O_EXCL (it holds the instance and the time, for
 * people); once the local runner has launched the attempt's game, a
 * line "pid N" is appended: its process group, so that the next gateway
 * can stop what a killed one left running (grandchildren that escape
 * PR_SET_PDEATHSIG without a sandbox). One file per attempt, then, and
 * no other: the claim and the pid together cost one creation, two
 * appends and one unlink, and the claims present at start are exactly
 * the attempts that may have left something running. O_EXCL keeps a
 * claim atomic between gateways sharing the folder.
 *
 * Finding a claim already there means a run of that attempt began
 * before and was interrupted (a crash, a revoked partition): its game
 * may have run in part, so this run becomes the next attempt
 * (docs/design.md section 7: infra failures retry as a new attempt). The claims of a task go
 * when its result has committed. The journal must outlive the process
 * (it is a folder on disk, runner.journal_dir); with runner.type = k8s
 * the pod names do this job and no claims are taken.
 *
 * A kill -9 at any step (tests/kafka/journal.sh): after the claim,
 * before the game ran: the attempt counts as interrupted and the next
 * run is the next attempt (nothing ran twice); after the pid line: the
 * same, and the game's group is stopped first; after the release: the
 * result had committed and nothing runs again.
 *
 * It knows nothing of tasks beyond their id and attempt numbers.
 */
#include "config.h"
#include "gateway.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Test only (PAIA_TEST_KILL_AT=claim|pid|release): die after that step,
 * PAIA_TEST_KILL_DELAY_MS later (the loop stopped meanwhile, the game not).
 */
static void
claims_test_kill(const char *step)
{
	const char *at = getenv("PAIA_TEST_KILL_AT"), *ms = getenv("PAIA_TEST_KILL_DELAY_MS");
	int64_t end, left;

	if (at == NULL || strcmp(at, step) != 0)
		return;
	/* The whole delay: a signal (SIGCHLD of a game's orphan) does not shorten it. */
	end = util_mono_ms() + (ms != NULL ? (int64_t)strtoul(ms, NULL, 10) : 0);
	while ((left = end - util_mono_ms()) > 0)
		poll(NULL, 0, (int)left);
	raise(SIGKILL);
}

char *
claims_dir(const struct config *conf)
{
	const char *dir = config_get(conf, "runner", "journal_dir");
	char *s;

	if (*dir != '\0')
		return xstrdup(dir);
	xasprintf(&s, "%s/launched", config_get(conf, "gateway", "state_dir"));
	return s;
}

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
			claims_test_kill("claim");
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
	claims_test_kill("release");
}

void
claims_note_pid(const char *journal, const char *task_id, int attempt, pid_t pgid)
{
	char *path = claims_path(journal, task_id, attempt), buf[32];
	int fd, n;

	/* No claim (the start-up probe, a runner without claims): nothing to note. */
	if ((fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			log_warn("cannot note the game's process group in its launch claim",
			    "path=%s error=%s", log_q(path), log_q(strerror(errno)));
		free(path);
		return;
	}
	n = snprintf(buf, sizeof buf, "pid %ld\n", (long)pgid);
	if (write(fd, buf, (size_t)n) != n)
		log_warn("launch claim's pid not written in full", "path=%s", log_q(path));
	close(fd);
	free(path);
	claims_test_kill("pid");
}

void
claims_scan(const char *journal, void (*cb)(const char *, int, pid_t, void *), void *arg)
{
	char *path, *text, *line, *save = NULL, *dot, *task, *cause = NULL;
	long long attempt, pgid;
	struct dirent *de;
	DIR *d;

	if ((d = opendir(journal)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || (dot = strrchr(de->d_name, '.')) == NULL ||
		    util_parse_int(dot + 1, 1, INT32_MAX, &attempt) != 0)
			continue;
		xasprintf(&path, "%s/%s", journal, de->d_name);
		text = util_read_file(path, 4096, NULL, &cause);
		free(path);
		if (text == NULL) {
			free(cause);
			cause = NULL;
			continue;
		}
		task = xstrndup(de->d_name, (size_t)(dot - de->d_name));
		for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
			if (strncmp(line, "pid ", 4) == 0 &&
			    util_parse_int(line + 4, 2, INT32_MAX, &pgid) == 0)
				cb(task, (int)attempt, (pid_t)pgid, arg);
		free(task);
		free(text);
	}
	closedir(d);
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
