/*
 * test-runner-reaper.c: the local runner shares the process with other
 * supervisors of children (the VPN supervisor's openvpn) through
 * common/reaper.c, the one SIGCHLD handler: a child another module
 * watches keeps its exit status, whether it was forked before the
 * runner started or after, and while games come and go. (A runner that
 * called waitpid(-1) itself took such a child's status: the watcher got
 * -1, "collected elsewhere".)
 *
 * It runs real processes: the runner with runner.sandbox = none and
 * /bin/true as its game command (as root, games run as runner.user).
 */
#include "config.h"
#include "gateway.h"
#include "options.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

struct watched {
	int done;
	int status;
};

static void
on_reaped(pid_t pid, int status, void *arg)
{
	struct watched *w = arg;

	w->done = 1;
	w->status = status;
}

static pid_t
child_exiting(int code, int delay_ms)
{
	pid_t pid = fork();

	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		usleep((useconds_t)delay_ms * 1000);
		_exit(code);
	}
	return pid;
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* Run the loop until every watched child is collected (10 s at most). */
static void
run_until(struct event_base *base, struct watched *w, size_t n)
{
	struct timeval tick = { 0, 20000 };
	struct event *t = evtimer_new(base, timeout_cb, base);
	int64_t end = util_mono_ms() + 10000;
	size_t i, done;

	do {
		evtimer_add(t, &tick);
		event_base_loop(base, EVLOOP_ONCE);
		for (i = done = 0; i < n; i++)
			done += w[i].done;
	} while (done < n && util_mono_ms() < end);
	event_free(t);
	assert_int_equal(done, n);
}

static void
game_started(struct runner_job *j, void *arg)
{
}

static void
game_done(struct runner_job *j, const struct runner_outcome *o, void *arg)
{
	struct watched *w = arg;

	w->done = 1;
	w->status = o->end == RUNNER_EXITED ? o->exit_code : -100 - (int)o->end;
}

static void
test_children_of_others_keep_their_status(void **state)
{
	struct event_base *base = event_base_new();
	struct config *conf = config_new(options_schema, options_passthrough);
	struct watched w[3], g;
	struct runner_req req;
	struct runner *r;
	char tmpl[512], *dir, *cause = NULL;

	snprintf(tmpl, sizeof tmpl, "%s/paia-test-reaper.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpl) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	/* runner.user reaches the task folders by their path (as root). */
	chmod(tmpl, 0711);
	xasprintf(&dir, "%s/tasks", tmpl);
	mkdir(dir, 0711);
	free(dir);
	if (config_set(conf, "gateway", "state_dir", tmpl, &cause) != 0 ||
	    config_set(conf, "runner", "command", "/bin/true", &cause) != 0 ||
	    config_set(conf, "runner", "sandbox", "none", &cause) != 0)
		fail_msg("%s", cause);
	memset(w, 0, sizeof w);
	/* Watched before the runner starts (its SIGCHLD event comes after ours). */
	reaper_watch(base, child_exiting(7, 300), on_reaped, &w[0]);
	if ((r = runner_local_new(base, conf, &cause)) == NULL) {
		if (cause != NULL && strstr(cause, "cannot start here") != NULL) {
			/* runner.user missing: scripts/setup.sh makes it. */
			print_message("skipped: %s\n", cause);
			free(cause);
			goto out;
		}
		fail_msg("%s", cause);
	}
	/* ...and after. */
	reaper_watch(base, child_exiting(9, 100), on_reaped, &w[1]);
	/* A game in between, in a folder of its own. */
	xasprintf(&dir, "%s/tasks/g1", tmpl);
	mkdir(dir, 0755);
	{
		char *out;

		xasprintf(&out, "%s/output", dir);
		mkdir(out, 0777);
		chmod(out, 0777);
		free(out);
		xasprintf(&out, "%s/input", dir);
		mkdir(out, 0755);
		free(out);
	}
	memset(&req, 0, sizeof req);
	req.task_id = "g1";
	req.attempt = 1;
	req.game = "catch";
	req.dir = dir;
	req.entry = "x";
	req.params = "{}";
	req.timeout_s = 30;
	memset(&g, 0, sizeof g);
	runner_start(r, &req, game_started, game_done, &g);
	reaper_watch(base, child_exiting(11, 200), on_reaped, &w[2]);
	run_until(base, w, 3);
	run_until(base, &g, 1);
	assert_int_equal(WIFEXITED(w[0].status) ? WEXITSTATUS(w[0].status) : -1, 7);
	assert_int_equal(WIFEXITED(w[1].status) ? WEXITSTATUS(w[1].status) : -1, 9);
	assert_int_equal(WIFEXITED(w[2].status) ? WEXITSTATUS(w[2].status) : -1, 11);
	assert_int_equal(g.status, 0);
	free(dir);
	runner_free(r);
out:
	util_rmtree(tmpl);
	config_free(conf);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_children_of_others_keep_their_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
