/*
 * runner-int.h: the local runner's pure parts, shared with its unit test
 * (tests/unit/test-runner-local.c): the bubblewrap command line, the
 * game's environment, bwrap's status lines. None of them touches the
 * file system or a process.
 */
#ifndef PAIA_RUNNER_INT_H
#define PAIA_RUNNER_INT_H

#include "gateway.h"

/* PAIA_PARAMS is set only for params shorter than this (the file always). */
#define RUNNER_PARAMS_ENV_MAX (32 * 1024)
/* MAX_ARG_STRLEN: the kernel's cap on one argv or environment string, NUL included. */
#define RUNNER_ARG_STRLEN_MAX (32 * 4096)
/* Where a sandboxed game sees its task folder (the pod contract). */
#define RUNNER_WORKSPACE "/workspace"
/* Root: the child's private tmpfs where task folders are bound first. */
#define RUNNER_STAGE "/tmp"
/* runner.ro_paths holds at most this many paths. */
#define RUNNER_RO_PATHS_MAX 32

/* What every sandbox of a runner shares, fixed at start. */
struct runner_local_sandbox {
	const char *bwrap;		/* absolute path */
	const char *game;		/* the game's binary (absolute), bound where it is */
	const char *const *argv;	/* what runs: the game's command line */
	const char *const *system;	/* bwrap options binding the host's /usr, /etc files... */
	const char *const *ro_paths;	/* runner.ro_paths, absolute; NULL-terminated */
	long long tmp_mb;
	int staged;			/* root: sources are under RUNNER_STAGE */
	int status_fd;			/* bwrap --json-status-fd */
};

/*
 * The bwrap command line running the game of task folder dir (caller
 * frees with runner_local_strv_free). Staged, the sources are the child's
 * RUNNER_STAGE/{input,output,params.json,game,ro-N}; else dir's own.
 */
char **runner_local_sandbox_argv(const struct runner_local_sandbox *, const char *dir);
/* The staged name of ro_paths[i] (caller frees). */
char *runner_local_stage_ro_name(size_t i);

/*
 * The game's environment, built from nothing (caller frees): workspace
 * and params_file as the game sees them, path and home. NULL with
 * *cause when a value is too long for an environment string (E2BIG).
 */
char **runner_local_env_build(const struct runner_req *, const char *workspace,
    const char *params_file, const char *path, const char *home, char **cause);

/*
 * bwrap's --json-status-fd text, one JSON object a line: the sandbox's
 * first process ("child-pid", as the host sees it) and how it ended
 * ("exit-code": written only when the game was exec'd). -1 for each
 * not seen yet.
 */
void runner_local_status_parse(const char *text, size_t len, long *child_pid, int *exit_code);

#endif
