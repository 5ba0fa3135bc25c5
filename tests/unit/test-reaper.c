/*
 * test-reaper.c: the process's one SIGCHLD handler (common/reaper.c):
 * each registered child is collected once with its status, from the
 * loop; children nobody registered are left alone unless orphan
 * reaping is on; a child collected elsewhere is reported with status
 * -1; a cancelled watch calls nothing; the signal event goes away with
 * the last watch.
 */
#include "config.h"
#include "common.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

struct seen {
	pid_t pid;
	int status;
	int calls;
	struct event_base *base;
};

static void
on_reaped(pid_t pid, int status, void *arg)
{
	struct seen *s = arg;

	s->pid = pid;
	s->status = status;
	s->calls++;
	event_base_loopbreak(s->base);
}

static pid_t
child_exiting(int code)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(code);
	return pid;
}

/* Run the loop until cb breaks it, at most 10 s. */
static void
run(struct event_base *base)
{
	struct timeval tv = { 10, 0 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/*
 * Let the loop run until pid is gone (collected by the reaper), at most
 * 10 s. WNOWAIT only looks: it must not collect the child itself.
 */
static void
settle(struct event_base *base, pid_t pid)
{
	struct timeval tv = { 0, 100000 };
	siginfo_t si;
	int i;

	for (i = 0; i < 100 && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
	    i++) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

static void
test_registered_child(void **state)
{
	struct event_base *base = event_base_new();
	struct seen s = { 0, 0, 0, base };
	pid_t pid = child_exiting(7);

	reaper_watch(base, pid, on_reaped, &s);
	run(base);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.pid, pid);
	assert_true(WIFEXITED(s.status));
	assert_int_equal(WEXITSTATUS(s.status), 7);
	/* Collected: nothing is left to wait for. */
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	event_base_free(base);
}

static void
test_signal_and_stranger(void **state)
{
	struct event_base *base = event_base_new();
	struct seen s = { 0, 0, 0, base };
	pid_t stranger = child_exiting(3), pid;
	int status;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(30);	/* never outlive a failed test */
		pause();
		_exit(0);
	}
	reaper_watch(base, pid, on_reaped, &s);
	kill(pid, SIGKILL);
	run(base);
	assert_int_equal(s.calls, 1);
	assert_true(WIFSIGNALED(s.status));
	assert_int_equal(WTERMSIG(s.status), SIGKILL);
	/* The child nobody registered was left for its owner. */
	assert_int_equal(waitpid(stranger, &status, 0), stranger);
	assert_int_equal(WEXITSTATUS(status), 3);
	event_base_free(base);
}

static void
test_collected_elsewhere(void **state)
{
	struct event_base *base = event_base_new();
	struct seen s = { 0, 0, 0, base };
	pid_t pid = child_exiting(0);

	reaper_watch(base, pid, on_reaped, &s);
	/* Another part of the program takes it first (a stray waitpid(-1)). */
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	run(base);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.status, -1);
	event_base_free(base);
}

static void
test_cancel_and_orphans(void **state)
{
	struct event_base *base = event_base_new();
	struct seen s = { 0, 0, 0, base }, t = { 0, 0, 0, base };
	struct reaper_watch *w;
	pid_t a = child_exiting(1), b, stranger;

	w = reaper_watch(base, a, on_reaped, &s);
	reaper_cancel(w);
	/* Orphan reaping on: the unregistered ones go too, silently. */
	reaper_set_orphans(base, 1);
	stranger = child_exiting(2);
	b = child_exiting(4);
	reaper_watch(base, b, on_reaped, &t);
	run(base);
	assert_int_equal(t.calls, 1);
	assert_int_equal(WEXITSTATUS(t.status), 4);
	assert_int_equal(s.calls, 0);
	/* a and the stranger are collected by the orphan sweep, not left as zombies. */
	settle(base, a);
	settle(base, stranger);
	assert_int_equal(waitpid(a, NULL, WNOHANG), -1);
	assert_int_equal(waitpid(stranger, NULL, WNOHANG), -1);
	reaper_set_orphans(base, 0);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered_child),
		cmocka_unit_test(test_signal_and_stranger),
		cmocka_unit_test(test_collected_elsewhere),
		cmocka_unit_test(test_cancel_and_orphans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
