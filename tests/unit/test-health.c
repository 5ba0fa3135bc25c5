/*
 * test-health.c: Burrow's window rules as health_evaluate applies them
 * (gateway/health.c). Each case is a window of checks, oldest first:
 * (time ms, committed offset, lag). And the verdicts of /livez and
 * /readyz (gateway/probes.c) over their inputs.
 */
#include "config.h"
#include "gateway.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define W 5

static const struct {
	const char *name;
	struct health_sample win[W];
	size_t n;
	int64_t now, commit_ms;
	enum health_status want;
} cases[] = {
	{ "lag zero somewhere in the window is OK",
	  { { 0, 10, 5 }, { 1000, 10, 0 }, { 2000, 10, 3 }, { 3000, 10, 4 }, { 4000, 10, 6 } },
	  5, 4000, 4000, HEALTH_OK },
	{ "not enough history is OK",
	  { { 0, 10, 5 }, { 1000, 10, 6 } }, 2, 1000, 1000, HEALTH_OK },
	{ "committed offset going back is REWIND",
	  { { 0, 10, 5 }, { 1000, 12, 5 }, { 2000, 8, 9 } }, 3, 2000, 2000, HEALTH_REWIND },
	{ "moving but lag not shrinking is WARN",
	  { { 0, 10, 5 }, { 1000, 12, 6 }, { 2000, 14, 6 }, { 3000, 16, 7 }, { 4000, 18, 8 } },
	  5, 4000, 4000, HEALTH_WARN },
	{ "moving with lag shrinking is OK",
	  { { 0, 10, 9 }, { 1000, 12, 8 }, { 2000, 14, 6 }, { 3000, 16, 4 }, { 4000, 18, 2 } },
	  5, 4000, 4000, HEALTH_OK },
	{ "committing the same offset while lag grows is STALL",
	  { { 0, 10, 5 }, { 1000, 10, 6 }, { 2000, 10, 6 }, { 3000, 10, 7 }, { 4000, 10, 8 } },
	  5, 4000, 3900, HEALTH_STALL },
	{ "no transaction for longer than the window spans is STOP",
	  { { 0, 10, 5 }, { 1000, 10, 6 }, { 2000, 10, 6 }, { 3000, 10, 7 }, { 4000, 10, 8 } },
	  5, 9000, 1000, HEALTH_STOP },
	{ "a stopped consumer with no lag is OK",
	  { { 0, 10, 0 }, { 1000, 10, 0 }, { 2000, 10, 0 }, { 3000, 10, 0 }, { 4000, 10, 0 } },
	  5, 90000, 0, HEALTH_OK },
	{ "unknown committed offset (-1) is not a rewind",
	  { { 0, -1, 5 }, { 1000, -1, 5 }, { 2000, 3, 2 } }, 3, 2000, 2000, HEALTH_OK },
};

static void
test_window_rules(void **state)
{
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum health_status got = health_evaluate(cases[i].win, cases[i].n, W, cases[i].now,
		    cases[i].commit_ms);
		if (got != cases[i].want)
			fail_msg("%s: got %s, want %s", cases[i].name, proto_health_name(got),
			    proto_health_name(cases[i].want));
	}
}

static void
test_status_names(void **state)
{
	assert_string_equal(proto_health_name(HEALTH_OK), "OK");
	assert_string_equal(proto_health_name(HEALTH_STALL), "STALL");
	assert_string_equal(proto_health_name(HEALTH_REWIND), "REWIND");
}

/* /livez: only a wedged process fails; a busy or disconnected one is live. */
static void
test_probes_live(void **state)
{
	struct probes_input in = { 0 };
	char *why = NULL;

	in.limit_ms = 180000;
	/* Every slot busy, a backlog, no commit for an hour, the broker gone: live. */
	in.loop_idle_ms = 1000;
	in.committer_stall_ms = 60000;
	in.health_stall_ms = 5000;
	assert_int_equal(probes_live_judge(&in, &why), 1);
	assert_null(why);
	in.loop_idle_ms = 180001;
	assert_int_equal(probes_live_judge(&in, &why), 0);
	assert_string_equal(why, "the loop's tick has not run for 180 s");
	free(why);
	in.loop_idle_ms = 0;
	in.committer_stall_ms = 240000;
	assert_int_equal(probes_live_judge(&in, &why), 0);
	assert_string_equal(why, "the committer thread has made no step for 240 s");
	free(why);
	in.committer_stall_ms = 0;
	in.health_stall_ms = 181000;
	assert_int_equal(probes_live_judge(&in, &why), 0);
	assert_string_equal(why, "the lag thread has made no step for 181 s");
	free(why);
}

/* /readyz: it can take work now, or says what it waits for. */
static void
test_probes_ready(void **state)
{
	struct probes_input in = { 0 };
	char *why = NULL;

	in.reachable = in.producer_ready = in.assigned = 1;
	assert_int_equal(probes_ready_judge(&in, &why), 1);
	assert_null(why);
	in.assigned = 0;
	assert_int_equal(probes_ready_judge(&in, &why), 0);
	assert_non_null(strstr(why, "no assignment from its group"));
	free(why);
	in.producer_ready = 0;
	assert_int_equal(probes_ready_judge(&in, &why), 0);
	assert_string_equal(why, "the transactional producer is not initialised");
	free(why);
	in.reachable = 0;
	in.unreachable_why = xstrdup("no answer from the broker for 40 s: Local: Broker transport "
	    "failure");
	assert_int_equal(probes_ready_judge(&in, &why), 0);
	assert_string_equal(why, "Kafka: no answer from the broker for 40 s: Local: Broker "
	    "transport failure");
	free(why);
	in.draining = 1;
	assert_int_equal(probes_ready_judge(&in, &why), 0);
	assert_string_equal(why, "draining: intake stopped, in-flight tasks finishing");
	free(why);
	free(in.unreachable_why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_rules),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_probes_live),
		cmocka_unit_test(test_probes_ready),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
