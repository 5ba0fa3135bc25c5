/*
 * test-runner-local.c: the local runner's pure parts (gateway/runner-int.h):
 * the bubblewrap command line a game runs under, the environment built
 * from nothing (params in a file; a value too long for a process is the
 * task's fault, found before exec), and bwrap's status lines. The
 * sandbox itself is tested with hostile programs in
 * tests/integration/sandbox.sh.
 */
#include "config.h"
#include "gateway.h"
#include "runner-int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *const game_argv[] = { "/opt/game/bin/game", "--fast", NULL };
static const char *const sys_args[] = { "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", NULL };
static const char *const ro_paths[] = { "/opt/models", "/srv/fonts.conf", NULL };

/* Index of the first of n words w in v at or after from, or -1. */
static int
argv_find(char **v, int from, const char *w0, const char *w1, const char *w2)
{
	int i;

	for (i = from; v[i] != NULL; i++) {
		if (strcmp(v[i], w0) != 0)
			continue;
		if (w1 != NULL && (v[i + 1] == NULL || strcmp(v[i + 1], w1) != 0))
			continue;
		if (w2 != NULL && (v[i + 1] == NULL || v[i + 2] == NULL || strcmp(v[i + 2], w2) != 0))
			continue;
		return i;
	}
	return -1;
}

static void
sandbox_init(struct runner_sandbox *sb, int staged)
{
	memset(sb, 0, sizeof *sb);
	sb->bwrap = "/usr/bin/bwrap";
	sb->game = game_argv[0];
	sb->argv = game_argv;
	sb->system = sys_args;
	sb->ro_paths = ro_paths;
	sb->tmp_mb = 64;
	sb->staged = staged;
	sb->status_fd = 4;
}

static void
test_argv_namespaces(void **state)
{
	struct runner_sandbox sb;
	char **v;
	int dash;

	sandbox_init(&sb, 1);
	v = runner_sandbox_argv(&sb, "/var/lib/paia/tasks/t1");
	assert_string_equal(v[0], "/usr/bin/bwrap");
	/* Every namespace, no way back to the host's, nothing outlives the game. */
	assert_true(argv_find(v, 1, "--unshare-all", NULL, NULL) > 0);
	assert_true(argv_find(v, 1, "--unshare-user", NULL, NULL) > 0);
	assert_true(argv_find(v, 1, "--disable-userns", NULL, NULL) > 0);
	assert_true(argv_find(v, 1, "--die-with-parent", NULL, NULL) > 0);
	assert_true(argv_find(v, 1, "--new-session", NULL, NULL) > 0);
	assert_true(argv_find(v, 1, "--as-pid-1", NULL, NULL) > 0);
	assert_int_equal(argv_find(v, 1, "--share-net", NULL, NULL), -1);
	assert_true(argv_find(v, 1, "--json-status-fd", "4", NULL) > 0);
	assert_true(argv_find(v, 1, "--ro-bind", "/usr", "/usr") > 0);
	assert_true(argv_find(v, 1, "--symlink", "usr/lib", "/lib") > 0);
	assert_true(argv_find(v, 1, "--proc", "/proc", NULL) > 0);
	/* Private, bounded /tmp and /dev/shm: 64 MiB. */
	assert_true(argv_find(v, 1, "--size", "67108864", "--tmpfs") > 0);
	assert_true(argv_find(v, 1, "--tmpfs", "/tmp", NULL) > 0);
	assert_true(argv_find(v, 1, "--tmpfs", "/dev/shm", NULL) > 0);
	/* The game runs last, after "--", as configured. */
	dash = argv_find(v, 1, "--", NULL, NULL);
	assert_true(dash > 0);
	assert_string_equal(v[dash + 1], "/opt/game/bin/game");
	assert_string_equal(v[dash + 2], "--fast");
	assert_null(v[dash + 3]);
	/* The root and /dev become read-only once everything is mounted. */
	assert_true(argv_find(v, 1, "--remount-ro", "/", NULL) > argv_find(v, 1, "--bind", NULL, NULL));
	assert_true(argv_find(v, 1, "--remount-ro", "/dev", NULL) > 0);
	assert_true(argv_find(v, 1, "--chdir", "/workspace", NULL) < dash);
	runner_strv_free(v);
}

static void
test_argv_staged(void **state)
{
	struct runner_sandbox sb;
	char **v, *ro1;
	int i;

	sandbox_init(&sb, 1);
	v = runner_sandbox_argv(&sb, "/var/lib/paia/tasks/t1");
	/* Root: every source is in the child's staging tmpfs, none in the state folder. */
	assert_true(argv_find(v, 1, "--ro-bind", RUNNER_STAGE "/input", "/workspace/input") > 0);
	assert_true(argv_find(v, 1, "--bind", RUNNER_STAGE "/output", "/workspace/output") > 0);
	assert_true(argv_find(v, 1, "--ro-bind", RUNNER_STAGE "/params.json",
	    "/workspace/params.json") > 0);
	assert_true(argv_find(v, 1, "--ro-bind", RUNNER_STAGE "/game", "/opt/game/bin/game") > 0);
	ro1 = runner_stage_ro_name(1);
	assert_true(argv_find(v, 1, "--ro-bind", ro1, "/srv/fonts.conf") > 0);
	free(ro1);
	for (i = 0; v[i] != NULL; i++)
		assert_null(strstr(v[i], "/var/lib/paia"));
	/* Only output/ is writable. */
	assert_int_equal(argv_find(v, argv_find(v, 1, "--bind", NULL, NULL) + 1, "--bind", NULL,
	    NULL), -1);
	runner_strv_free(v);
}

static void
test_argv_direct(void **state)
{
	struct runner_sandbox sb;
	char **v;

	sandbox_init(&sb, 0);
	sb.status_fd = -1;
	v = runner_sandbox_argv(&sb, "/home/dev/paia/tasks/t1");
	assert_true(argv_find(v, 1, "--ro-bind", "/home/dev/paia/tasks/t1/input",
	    "/workspace/input") > 0);
	assert_true(argv_find(v, 1, "--bind", "/home/dev/paia/tasks/t1/output",
	    "/workspace/output") > 0);
	assert_true(argv_find(v, 1, "--ro-bind", "/opt/game/bin/game", "/opt/game/bin/game") > 0);
	assert_true(argv_find(v, 1, "--ro-bind", "/opt/models", "/opt/models") > 0);
	assert_int_equal(argv_find(v, 1, "--json-status-fd", NULL, NULL), -1);
	runner_strv_free(v);
}

static struct runner_req
req_init(const char *params)
{
	struct runner_req req;

	memset(&req, 0, sizeof req);
	req.task_id = "t1";
	req.attempt = 2;
	req.game = "catch";
	req.dir = "/var/lib/paia/tasks/t1";
	req.entry = "ai.py";
	req.params = params;
	return req;
}

static void
test_env_small_params(void **state)
{
	static const char *const want[] = {
		"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", "PAIA_TASK_ID=t1", "PAIA_ATTEMPT=2",
		"PAIA_GAME=catch", "PAIA_WORKSPACE=/workspace", "PAIA_ENTRY=ai.py",
		"PAIA_PARAMS_FILE=/workspace/params.json", "PAIA_PARAMS={\"frames\":3}", NULL
	};
	struct runner_req req = req_init("{\"frames\":3}");
	char **env, *cause = NULL;
	size_t i;

	env = runner_env_build(&req, "/workspace", "/workspace/params.json", "/usr/bin:/bin", "/tmp",
	    &cause);
	assert_non_null(env);
	/* Exactly these: nothing of the gateway's own environment. */
	for (i = 0; want[i] != NULL; i++) {
		assert_non_null(env[i]);
		assert_string_equal(env[i], want[i]);
	}
	assert_null(env[i]);
	runner_strv_free(env);
}

static void
test_env_large_params(void **state)
{
	size_t n = 200 * 1024, i;
	char *params = malloc(n + 16), **env, *cause = NULL;
	struct runner_req req;

	snprintf(params, n + 16, "{\"pad\":\"");
	memset(params + 8, 'x', n);
	snprintf(params + 8 + n, 8, "\"}");
	req = req_init(params);
	env = runner_env_build(&req, "/workspace", "/workspace/params.json", "/usr/bin", "/tmp",
	    &cause);
	/* 200 KB of params: only the file, so exec cannot fail with E2BIG. */
	assert_non_null(env);
	for (i = 0; env[i] != NULL; i++) {
		assert_true(strncmp(env[i], "PAIA_PARAMS=", 12) != 0);
		assert_true(strlen(env[i]) < 4096);
	}
	assert_int_equal(argv_find(env, 0, "PAIA_PARAMS_FILE=/workspace/params.json", NULL, NULL) >= 0, 1);
	runner_strv_free(env);
	/* Just under the threshold still goes in the environment too. */
	memset(params, 0, n + 16);
	snprintf(params, n + 16, "{\"pad\":\"");
	memset(params + 8, 'x', RUNNER_PARAMS_ENV_MAX - 11);
	snprintf(params + 8 + RUNNER_PARAMS_ENV_MAX - 11, 8, "\"}");
	assert_int_equal(strlen(params), RUNNER_PARAMS_ENV_MAX - 1);
	req = req_init(params);
	env = runner_env_build(&req, "/w", "/w/p", "/usr/bin", "/tmp", &cause);
	assert_non_null(env);
	for (i = 0; env[i] != NULL && strncmp(env[i], "PAIA_PARAMS=", 12) != 0; i++)
		;
	assert_non_null(env[i]);
	runner_strv_free(env);
	free(params);
}

static void
test_env_too_long(void **state)
{
	char *entry = malloc(RUNNER_ARG_STRLEN_MAX + 1), **env, *cause = NULL;
	struct runner_req req = req_init("{}");

	memset(entry, 'e', RUNNER_ARG_STRLEN_MAX);
	entry[RUNNER_ARG_STRLEN_MAX] = '\0';
	req.entry = entry;
	/* Deterministic: the task's value cannot fit; no exec, no retry (invalid). */
	env = runner_env_build(&req, "/workspace", "/workspace/params.json", "/usr/bin", "/tmp",
	    &cause);
	assert_null(env);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "PAIA_ENTRY"));
	free(cause);
	free(entry);
}

static void
test_status_parse(void **state)
{
	/* As bwrap 0.8 writes them to --json-status-fd. */
	static const char both[] =
	    "{ \"child-pid\": 4242, \"cgroup-namespace\": 4026531835, \"ipc-namespace\": 4026532290, "
	    "\"mnt-namespace\": 4026532288, \"net-namespace\": 4026532293, \"pid-namespace\": "
	    "4026532291, \"uts-namespace\": 4026532289 }\n{ \"exit-code\": 3 }\n";
	static const char started[] = "{ \"child-pid\": 77 }\n{ \"exit-co";
	static const char junk[] = "not json\n{ \"child-pid\": -5 }\n{ \"exit-code\": 300 }\n"
	    "{ \"child-pid\": \"12\" }\n";
	long pid;
	int code;

	runner_status_parse(both, sizeof both - 1, &pid, &code);
	assert_int_equal(pid, 4242);
	assert_int_equal(code, 3);
	/* The game was never exec'd (or not yet): no exit code. */
	runner_status_parse(started, sizeof started - 1, &pid, &code);
	assert_int_equal(pid, 77);
	assert_int_equal(code, -1);
	runner_status_parse(junk, sizeof junk - 1, &pid, &code);
	assert_int_equal(pid, -1);
	assert_int_equal(code, -1);
	runner_status_parse("", 0, &pid, &code);
	assert_int_equal(pid, -1);
	assert_int_equal(code, -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv_namespaces),
		cmocka_unit_test(test_argv_staged),
		cmocka_unit_test(test_argv_direct),
		cmocka_unit_test(test_env_small_params),
		cmocka_unit_test(test_env_large_params),
		cmocka_unit_test(test_env_too_long),
		cmocka_unit_test(test_status_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
