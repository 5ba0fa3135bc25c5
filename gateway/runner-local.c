/*
 * runner-local.c: the local runner: the game is a child process in the
 * task's folder, supervised like tmux's job.c, and confined
 * (docs/design.md section 7: a sandbox, not a fork).
 *
 * runner.sandbox = bwrap (the default): bubblewrap gives the game its own
 * user, mount, pid, ipc, uts, net and cgroup namespaces. It sees the
 * host's /usr and a few /etc files read-only, the task's input/ and
 * params.json read-only and output/ writable under /workspace (the pod
 * contract), its own binary, runner.ro_paths, and a private /tmp; nothing
 * else of the host: not the state folder, the config, other tasks, the
 * network. The game is the pid namespace's first process, so when it
 * ends the kernel kills whatever it left behind (setsid, double forks),
 * and a job ends only once that has happened. Started as root, the
 * gateway drops to runner.user for real (setresuid) before bwrap runs:
 * no namespace maps the game to root. That user cannot reach the
 * gateway's folders, so the child first binds what the game needs into
 * a tmpfs on /tmp of a mount namespace of its own (RUNNER_STAGE), and
 * bwrap binds from there. Started as another user, games run as that
 * user and the namespaces alone hide the gateway's files.
 *
 * runner.sandbox = none keeps the uid drop (when root), the rlimits and
 * the clean environment, and nothing else: for hosts without user
 * namespaces, with a warning at start.
 *
 * A game is launched with clone(CLONE_VM | CLONE_VFORK) on a stack of the
 * runner's own, like posix_spawn: the child borrows the gateway's memory
 * instead of copying its page tables (fork of a large process was most
 * of the gateway's CPU per task), and the loop waits only until exec.
 * Everything the child needs (argv, envp, paths, limits, the staging
 * list) is made before, in the parent; the child makes system calls
 * only: no malloc, no stdio, no strerror, no glibc setxid (its setresuid
 * would change the credentials of the gateway's other threads, whose
 * memory the child shares: raw syscalls instead), and every signal
 * handler reset before signals are unblocked.
 *
 * Either way each job leads its own process group; a deadline or cancel
 * sends SIGTERM (in the sandbox, to the game's own group), then SIGKILL
 * after runner.kill_grace_s; stdout and stderr go to output/log.txt; CPU
 * and memory are capped with rlimits; params reach the game as a file
 * (PAIA_PARAMS_FILE), and in PAIA_PARAMS too when small. The gateway is
 * a child subreaper, so orphans of a game are reaped here. Children are
 * collected through common/reaper.c, the process's one SIGCHLD handler
 * (the VPN supervisor's openvpn is a child too): each job's pid is
 * watched, and orphan reaping collects what games left behind.
 *
 * The runner knows nothing of Kafka or results: it reports how the
 * process ended. The pure parts (command line, environment, bwrap's
 * status) are in runner-int.h for the unit test.
 */
#include "config.h"
#include "gateway.h"
#include "runner-int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

/* The child of clone(CLONE_VM) runs on its own stack: no sanitizer frames there. */
#if defined(__SANITIZE_ADDRESS__)
#define RUNNER_CHILD_CODE __attribute__((no_sanitize_address))
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RUNNER_CHILD_CODE __attribute__((no_sanitize_address))
#endif
#endif
#ifndef RUNNER_CHILD_CODE
#define RUNNER_CHILD_CODE
#endif

/* The 32-bit id calls where the plain ones take 16-bit ids. */
#ifdef SYS_setresuid32
#define RUNNER_SYS_SETRESUID SYS_setresuid32
#define RUNNER_SYS_SETRESGID SYS_setresgid32
#define RUNNER_SYS_SETGROUPS SYS_setgroups32
#define RUNNER_SYS_SETUID SYS_setuid32
#else
#define RUNNER_SYS_SETRESUID SYS_setresuid
#define RUNNER_SYS_SETRESGID SYS_setresgid
#define RUNNER_SYS_SETGROUPS SYS_setgroups
#define RUNNER_SYS_SETUID SYS_setuid
#endif

/* The launching child's stack (it only makes system calls, then execs). */
#define RUNNER_CHILD_STACK (256 * 1024)

enum job_state { JOB_RUNNING, JOB_STOPPING, JOB_DEAD };

/*
 * What a child reports when set-up or exec failed: errno, then what
 * failed (the parent adds errno's words). The child writes it into the
 * gateway's memory, which it shares (CLONE_VM), before it exits; the
 * parent reads it once clone returns (CLONE_VFORK: exec'd or exited by
 * then). No pipe: four system calls a launch fewer.
 */
struct runner_local_exec_report {
	int failed;		/* 0: exec'd (or ended without a word) */
	int err;
	char what[508];
};

struct runner_local_job {
	struct runner_job gen;		/* first: the generic handle */
	struct runner_local *r;
	pid_t pid;		/* our child: bwrap, or the game itself (none) */
	struct reaper_watch *watch;	/* until the reaper collects pid */
	struct runner_local_exec_report exec;	/* the child's report (exec.failed) */
	struct event *exec_ev;	/* says exec's outcome; NULL once said */
	int statusfd;		/* bwrap's --json-status-fd, until EOF */
	struct event *status_ev;
	char status[1024];
	size_t status_len;
	pid_t game;		/* the sandbox's first process, as the host sees it */
	int gamefd;		/* its pidfd; -1 when unknown or not sandboxed */
	struct event *game_ev;	/* bwrap ended: waiting for the game's namespace to */
	struct runner_outcome last;	/* the outcome held meanwhile */
	char *last_message;
	char *task_id;
	int attempt;
	long timeout_s;
	runner_started_cb *started_cb;
	enum job_state state;
	enum runner_end end;	/* why we are stopping */
	struct event *deadline;
	struct event *kill_timer;
	runner_done_cb *done_cb;
	void *arg;
	int abandoned;
	LIST_ENTRY(runner_local_job) entry;
};
LIST_HEAD(runner_local_job_list, runner_local_job);

struct runner_local {
	struct runner gen;		/* first: the generic handle */
	struct event_base *base;
	const struct config *conf;
	char **argv;		/* runner.command split on spaces, argv[0] absolute */
	int bwrap;		/* runner.sandbox = bwrap */
	char *bwrap_path;
	char **system;		/* bwrap options for the host's /usr, /etc files */
	char **ro_paths;	/* runner.ro_paths, resolved */
	int drop;		/* started as root: games run as uid/gid */
	uid_t uid;
	gid_t gid;
	pid_t pid;		/* the gateway's (getpid once: a launch's child checks it) */
	int orphans;		/* orphan reaping turned on */
	void *stack;		/* RUNNER_CHILD_STACK bytes for the launching child */
	char *journal;		/* launch claims: each game's process group is noted there */
	struct runner_local_job_list jobs;
	size_t njobs;
};

/* One bind into the child's staging tmpfs (root and bwrap only). */
struct runner_local_stage {
	char *src;
	char *dst;
	int dir;
};

/* Everything the child needs, made before fork: it only makes system calls. */
struct runner_local_launch {
	char **argv;
	char **envp;
	char *dir;
	char *log;
	struct runner_local_stage stage[4 + RUNNER_RO_PATHS_MAX];
	size_t nstage;
	int drop;
	uid_t uid;
	gid_t gid;
	int reach;		/* no sandbox: runner.user must reach dir by its path */
	long long cpu, mem;
	pid_t parent;
};


/* What clone hands the child; rep is the child's to write. */
struct runner_local_child_args {
	const struct runner_local_launch *l;
	int statusfd;
	struct runner_local_exec_report rep;
};

void
runner_local_strv_add(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 2, sizeof **v);
	(*v)[(*n)++] = xstrdup(s);
	(*v)[*n] = NULL;
}

void
runner_local_strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static char **
runner_local_split(const char *cmd)
{
	char **argv = NULL, *copy = xstrdup(cmd), *tok, *save = NULL;
	size_t n = 0;

	for (tok = strtok_r(copy, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save))
		runner_local_strv_add(&argv, &n, tok);
	free(copy);
	if (argv == NULL)
		argv = xcalloc(1, sizeof *argv);
	return argv;
}

/* ---- the pure parts (runner-int.h) ---- */

char *
runner_local_stage_ro_name(size_t i)
{
	char *s;

	xasprintf(&s, "%s/ro-%zu", RUNNER_STAGE, i);
	return s;
}

/* Where the sandbox's source named name is: staged, or in the task folder. */
static char *
runner_local_source(const struct runner_local_sandbox *sb, const char *dir, const char *name)
{
	char *s;

	xasprintf(&s, "%s/%s", sb->staged ? RUNNER_STAGE : dir, name);
	return s;
}

char **
runner_local_sandbox_argv(const struct runner_local_sandbox *sb, const char *dir)
{
	static const char *const ns[] = {
		/* --unshare-user too: --disable-userns needs it said. */
		"--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
		"--new-session", "--as-pid-1", "--hostname", "paia-game", NULL
	};
	static const char *const binds[][3] = {
		{ "--ro-bind", "input", RUNNER_WORKSPACE "/input" },
		{ "--bind", "output", RUNNER_WORKSPACE "/output" },
		{ "--ro-bind", "params.json", RUNNER_WORKSPACE "/params.json" },
	};
	char **v = NULL, *s, buf[32];
	size_t n = 0, i;

	runner_local_strv_add(&v, &n, sb->bwrap);
	for (i = 0; ns[i] != NULL; i++)
		runner_local_strv_add(&v, &n, ns[i]);
	if (sb->status_fd >= 0) {
		snprintf(buf, sizeof buf, "%d", sb->status_fd);
		runner_local_strv_add(&v, &n, "--json-status-fd");
		runner_local_strv_add(&v, &n, buf);
	}
	for (i = 0; sb->system != NULL && sb->system[i] != NULL; i++)
		runner_local_strv_add(&v, &n, sb->system[i]);
	runner_local_strv_add(&v, &n, "--proc");
	runner_local_strv_add(&v, &n, "/proc");
	runner_local_strv_add(&v, &n, "--dev");
	runner_local_strv_add(&v, &n, "/dev");
	/* Private and bounded: tmpfs pages are memory no rlimit counts. */
	snprintf(buf, sizeof buf, "%lld", sb->tmp_mb * 1024 * 1024);
	runner_local_strv_add(&v, &n, "--size");
	runner_local_strv_add(&v, &n, buf);
	runner_local_strv_add(&v, &n, "--tmpfs");
	runner_local_strv_add(&v, &n, "/tmp");
	runner_local_strv_add(&v, &n, "--size");
	runner_local_strv_add(&v, &n, buf);
	runner_local_strv_add(&v, &n, "--tmpfs");
	runner_local_strv_add(&v, &n, "/dev/shm");
	for (i = 0; i < sizeof binds / sizeof binds[0]; i++) {
		runner_local_strv_add(&v, &n, binds[i][0]);
		s = runner_local_source(sb, dir, binds[i][1]);
		runner_local_strv_add(&v, &n, s);
		free(s);
		runner_local_strv_add(&v, &n, binds[i][2]);
	}
	runner_local_strv_add(&v, &n, "--ro-bind");
	if (sb->staged) {
		s = runner_local_source(sb, dir, "game");
		runner_local_strv_add(&v, &n, s);
		free(s);
	} else
		runner_local_strv_add(&v, &n, sb->game);
	runner_local_strv_add(&v, &n, sb->game);
	for (i = 0; sb->ro_paths != NULL && sb->ro_paths[i] != NULL; i++) {
		runner_local_strv_add(&v, &n, "--ro-bind");
		if (sb->staged) {
			s = runner_local_stage_ro_name(i);
			runner_local_strv_add(&v, &n, s);
			free(s);
		} else
			runner_local_strv_add(&v, &n, sb->ro_paths[i]);
		runner_local_strv_add(&v, &n, sb->ro_paths[i]);
	}
	/* Last: the root and /dev tmpfs were writable, and unbounded. */
	runner_local_strv_add(&v, &n, "--remount-ro");
	runner_local_strv_add(&v, &n, "/dev");
	runner_local_strv_add(&v, &n, "--remount-ro");
	runner_local_strv_add(&v, &n, "/");
	runner_local_strv_add(&v, &n, "--chdir");
	runner_local_strv_add(&v, &n, RUNNER_WORKSPACE);
	runner_local_strv_add(&v, &n, "--");
	for (i = 0; sb->argv[i] != NULL; i++)
		runner_local_strv_add(&v, &n, sb->argv[i]);
	return v;
}

char **
runner_local_env_build(const struct runner_req *req, const char *workspace, const char *params_file,
    const char *path, const char *home, char **cause)
{
	char attempt[16], **v = NULL;
	const char *params = req->params != NULL ? req->params : "{}";
	size_t n = 0, i, len;
	struct {
		const char *name, *value;
	} vars[] = {
		{ "PATH", path },
		{ "HOME", home },
		{ "LANG", "C.UTF-8" },
		{ "PAIA_TASK_ID", req->task_id },
		{ "PAIA_ATTEMPT", attempt },
		{ "PAIA_GAME", req->game },
		{ "PAIA_WORKSPACE", workspace },
		{ "PAIA_ENTRY", req->entry },
		{ "PAIA_PARAMS_FILE", params_file },
		/* Large params only in the file: one string may not pass 128 KiB. */
		{ "PAIA_PARAMS", strlen(params) < RUNNER_PARAMS_ENV_MAX ? params : NULL },
	};

	snprintf(attempt, sizeof attempt, "%d", req->attempt);
	v = xcalloc(1, sizeof *v);
	for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		if (vars[i].value == NULL)
			continue;
		len = strlen(vars[i].name) + 1 + strlen(vars[i].value) + 1;
		if (len > RUNNER_ARG_STRLEN_MAX) {
			xasprintf(cause, "the game's environment variable %s would be %zu bytes, more "
			    "than a process allows (%d)", vars[i].name, len, RUNNER_ARG_STRLEN_MAX);
			runner_local_strv_free(v);
			return NULL;
		}
		v = xreallocarray(v, n + 2, sizeof *v);
		xasprintf(&v[n++], "%s=%s", vars[i].name, vars[i].value);
		v[n] = NULL;
	}
	return v;
}

void
runner_local_status_parse(const char *text, size_t len, long *child_pid, int *exit_code)
{
	const char *line = text, *nl;
	const cJSON *v;
	cJSON *j;

	*child_pid = -1;
	*exit_code = -1;
	while ((nl = memchr(line, '\n', len - (size_t)(line - text))) != NULL) {
		if ((j = cJSON_ParseWithLength(line, (size_t)(nl - line))) != NULL) {
			v = cJSON_GetObjectItemCaseSensitive(j, "child-pid");
			if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= INT32_MAX)
				*child_pid = (long)v->valuedouble;
			v = cJSON_GetObjectItemCaseSensitive(j, "exit-code");
			if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 255)
				*exit_code = (int)v->valuedouble;
			cJSON_Delete(j);
		}
		line = nl + 1;
	}
}

/* ---- start-up: what every game of this runner shares ---- */

/*
 * The host's system files a game may see, as bwrap options: /usr, the
 * merged-/usr links (or folders) at the top, the loader's and the
 * alternatives' files in /etc (ffmpeg's libraries go through
 * /etc/alternatives), Python's /etc/python3*. Not /etc as a whole:
 * passwd, hosts, the gateway's own config may live there. frames.c's
 * ffmpeg sees the same.
 */
char **
runner_local_system_args(void)
{
	static const char *const paths[] = {
		"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
		"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
		"/etc/localtime", "/etc/nsswitch.conf", NULL
	};
	char **v = NULL, **found = NULL, link[PATH_MAX], *p;
	size_t n = 0, nfound = 0, i;
	struct dirent *de;
	struct stat sb;
	ssize_t len;
	DIR *d;

	for (i = 0; paths[i] != NULL; i++)
		runner_local_strv_add(&found, &nfound, paths[i]);
	if ((d = opendir("/etc")) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, "python3", 7) != 0)
				continue;
			xasprintf(&p, "/etc/%s", de->d_name);
			runner_local_strv_add(&found, &nfound, p);
			free(p);
		}
		closedir(d);
	}
	for (i = 0; i < nfound; i++) {
		if (lstat(found[i], &sb) != 0)
			continue;
		if (S_ISLNK(sb.st_mode)) {
			if ((len = readlink(found[i], link, sizeof link - 1)) <= 0)
				continue;
			link[len] = '\0';
			runner_local_strv_add(&v, &n, "--symlink");
			runner_local_strv_add(&v, &n, link);
		} else if (S_ISDIR(sb.st_mode) || S_ISREG(sb.st_mode))
			runner_local_strv_add(&v, &n, "--ro-bind");
		else
			continue;
		if (!S_ISLNK(sb.st_mode))
			runner_local_strv_add(&v, &n, found[i]);
		runner_local_strv_add(&v, &n, found[i]);
	}
	runner_local_strv_free(found);
	if (v == NULL)
		v = xcalloc(1, sizeof *v);
	return v;
}

/* Is path a or below b? */
static int
runner_local_path_within(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (n == 1 && *b == '/')
		return 1;
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

/* runner.ro_paths: absolute, existing, resolved; never the state folder. */
static int
runner_local_ro_paths_parse(struct runner_local *r, char **cause)
{
	static const char *const reserved[] = { RUNNER_WORKSPACE, "/proc", "/dev", NULL };
	char *copy = xstrdup(config_get(r->conf, "runner", "ro_paths")), *tok, *save = NULL;
	char *real, *state = realpath(config_get(r->conf, "gateway", "state_dir"), NULL);
	size_t n = 0, i;
	int rc = -1;

	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		tok += strspn(tok, " \t");
		tok[strcspn(tok, " \t")] = '\0';
		if (*tok == '\0')
			continue;
		if (*tok != '/') {
			xasprintf(cause, "runner.ro_paths: %s is not an absolute path", tok);
			goto out;
		}
		if (n == RUNNER_RO_PATHS_MAX) {
			xasprintf(cause, "runner.ro_paths: more than %d paths", RUNNER_RO_PATHS_MAX);
			goto out;
		}
		if ((real = realpath(tok, NULL)) == NULL) {
			xasprintf(cause, "runner.ro_paths: %s: %s", tok, strerror(errno));
			goto out;
		}
		for (i = 0; reserved[i] != NULL && !runner_local_path_within(real, reserved[i]); i++)
			;
		if (strcmp(real, "/") == 0 || reserved[i] != NULL) {
			xasprintf(cause, "runner.ro_paths: %s is (or is below) %s, which the sandbox makes "
			    "itself", tok, reserved[i] != NULL ? reserved[i] : "/");
			free(real);
			goto out;
		}
		if (state != NULL && (runner_local_path_within(real, state) || runner_local_path_within(state, real))) {
			xasprintf(cause, "runner.ro_paths: %s would show games the state folder %s", tok,
			    state);
			free(real);
			goto out;
		}
		runner_local_strv_add(&r->ro_paths, &n, real);
		free(real);
	}
	rc = 0;
out:
	if (r->ro_paths == NULL)
		r->ro_paths = xcalloc(1, sizeof *r->ro_paths);
	free(state);
	free(copy);
	return rc;
}

/* ---- a launch: the task folder, the command line, the environment ---- */

/*
 * Make the task folder what the game may use: params.json written,
 * output/ the game's (runner.user's, when root). The folder, input/ and
 * output/ were made 0755 (folders.c) and the downloads in input/ 0755
 * (taskdir_create): readable and runnable by anyone, and the game sees
 * input/ read-only and cannot chmod its program. Nothing is followed: a
 * link cannot be there (only the gateway writes the task folder) and the
 * flags refuse one anyway.
 */
static int
runner_local_workspace_prepare(const struct runner_local *r, const struct runner_req *req, char **cause)
{
	size_t len = strlen(req->params), off = 0;
	const char *what = "params.json";
	ssize_t n;
	int dfd, fd = -1, rc = -1;

	if ((dfd = open(req->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		xasprintf(cause, "%s: %s", req->dir, strerror(errno));
		return -1;
	}
	/* In place: nobody reads it before the game starts. The mode exact, whatever the umask. */
	if ((fd = openat(dfd, "params.json", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NOCTTY |
	    O_CLOEXEC, 0644)) < 0)
		goto fail;
	while (off < len) {
		if ((n = write(fd, req->params + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, 0644) != 0)
		goto fail;
	what = "output";
	if (r->drop && fchownat(dfd, "output", r->uid, r->gid, AT_SYMLINK_NOFOLLOW) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	xasprintf(cause, "%s/%s: %s", req->dir, what, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	return rc;
}

static void
runner_local_launch_free(struct runner_local_launch *l)
{
	size_t i;

	if (l == NULL)
		return;
	runner_local_strv_free(l->argv);
	runner_local_strv_free(l->envp);
	for (i = 0; i < l->nstage; i++) {
		free(l->stage[i].src);
		free(l->stage[i].dst);
	}
	free(l->dir);
	free(l->log);
	free(l);
}

static void
runner_local_launch_stage(struct runner_local_launch *l, const char *src, char *dst, int dir)
{
	l->stage[l->nstage].src = xstrdup(src);
	l->stage[l->nstage].dst = dst;
	l->stage[l->nstage].dir = dir;
	l->nstage++;
}

/*
 * What the child of a job runs: argv is the command (the runner's, or
 * the start-up probe's). NULL with *cause and *end (RUNNER_INVALID when
 * the task's values cannot fit an environment) on failure.
 */
static struct runner_local_launch *
runner_local_launch_new(const struct runner_local *r, char *const *argv, const struct runner_req *req,
    int status_fd, enum runner_end *end, char **cause)
{
	struct runner_local_launch *l = xcalloc(1, sizeof *l);
	struct runner_local_sandbox sb;
	const char *path = getenv("PATH");
	char *pfile, *s;
	size_t i, n;

	l->dir = xstrdup(req->dir);
	xasprintf(&l->log, "%s/output/log.txt", req->dir);
	l->drop = r->drop;
	l->uid = r->uid;
	l->gid = r->gid;
	l->cpu = config_get_int(r->conf, "runner", "cpu_s");
	l->mem = config_get_int(r->conf, "runner", "memory_mb");
	l->parent = r->pid;
	if (r->bwrap) {
		memset(&sb, 0, sizeof sb);
		sb.bwrap = r->bwrap_path;
		sb.game = r->argv[0];
		sb.argv = (const char *const *)argv;
		sb.system = (const char *const *)r->system;
		sb.ro_paths = (const char *const *)r->ro_paths;
		sb.tmp_mb = config_get_int(r->conf, "runner", "tmp_mb");
		sb.staged = r->drop;
		sb.status_fd = status_fd;
		l->argv = runner_local_sandbox_argv(&sb, req->dir);
		l->envp = runner_local_env_build(req, RUNNER_WORKSPACE, RUNNER_WORKSPACE "/params.json",
		    "/usr/local/bin:/usr/bin:/bin", "/tmp", cause);
		if (sb.staged) {
			xasprintf(&s, "%s/input", req->dir);
			runner_local_launch_stage(l, s, runner_local_source(&sb, NULL, "input"), 1);
			free(s);
			xasprintf(&s, "%s/output", req->dir);
			runner_local_launch_stage(l, s, runner_local_source(&sb, NULL, "output"), 1);
			free(s);
			xasprintf(&s, "%s/params.json", req->dir);
			runner_local_launch_stage(l, s, runner_local_source(&sb, NULL, "params.json"), 0);
			free(s);
			runner_local_launch_stage(l, r->argv[0], runner_local_source(&sb, NULL, "game"), 0);
			for (i = 0; r->ro_paths[i] != NULL; i++) {
				struct stat st;

				runner_local_launch_stage(l, r->ro_paths[i], runner_local_stage_ro_name(i),
				    stat(r->ro_paths[i], &st) == 0 && S_ISDIR(st.st_mode));
			}
		}
	} else {
		l->reach = r->drop;
		for (i = 0, n = 0; argv[i] != NULL; i++)
			runner_local_strv_add(&l->argv, &n, argv[i]);
		xasprintf(&pfile, "%s/params.json", req->dir);
		l->envp = runner_local_env_build(req, req->dir, pfile,
		    path != NULL ? path : "/usr/local/bin:/usr/bin:/bin", req->dir, cause);
		free(pfile);
	}
	if (l->envp == NULL) {
		*end = RUNNER_INVALID;
		runner_local_launch_free(l);
		return NULL;
	}
	return l;
}

/* ---- the child: system calls only, then exec ---- */

/* In the child: report a failed set-up in a->rep (errno and what) and exit. */
static void RUNNER_CHILD_CODE __attribute__((noreturn))
runner_local_child_fail(struct runner_local_child_args *a, const char *what)
{
	size_t n;

	a->rep.err = errno;
	for (n = 0; what[n] != '\0' && n < sizeof a->rep.what - 1; n++)
		a->rep.what[n] = what[n];
	a->rep.what[n] = '\0';
	a->rep.failed = 1;
	_exit(127);
}

/* In the child: "/proc/self/fd/N" into buf (no stdio there). */
static void RUNNER_CHILD_CODE
runner_local_child_fd_path(char *buf, size_t len, int fd)
{
	static const char prefix[] = "/proc/self/fd/";
	char digits[16];
	size_t i = 0, n = 0;

	do
		digits[n++] = (char)('0' + fd % 10);
	while ((fd /= 10) > 0 && n < sizeof digits);
	for (; prefix[i] != '\0' && i < len - 1; i++)
		buf[i] = prefix[i];
	while (n > 0 && i < len - 1)
		buf[i++] = digits[--n];
	buf[i] = '\0';
}

/*
 * In the child, as root: a mount namespace of its own, a tmpfs on /tmp
 * in it, and what the game needs bound there, where runner.user (and so
 * bwrap) can reach it. The sources are opened before /tmp is covered:
 * they may be below it.
 */
static void RUNNER_CHILD_CODE
runner_local_child_stage(struct runner_local_child_args *a)
{
	const struct runner_local_launch *l = a->l;
	int fds[4 + RUNNER_RO_PATHS_MAX], fd;
	char src[64];
	struct stat sb;
	size_t i;

	if (unshare(CLONE_NEWNS) != 0)
		runner_local_child_fail(a, "unshare(CLONE_NEWNS)");
	/* Nothing mounted here may show in the host's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		runner_local_child_fail(a, "making / private");
	for (i = 0; i < l->nstage; i++) {
		if ((fds[i] = open(l->stage[i].src, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
			runner_local_child_fail(a, l->stage[i].src);
		if (fstat(fds[i], &sb) != 0)
			runner_local_child_fail(a, l->stage[i].src);
		if (!S_ISDIR(sb.st_mode) != !l->stage[i].dir) {
			errno = l->stage[i].dir ? ENOTDIR : EISDIR;
			runner_local_child_fail(a, l->stage[i].src);
		}
	}
	if (mount("tmpfs", RUNNER_STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") != 0)
		runner_local_child_fail(a, "mounting the staging tmpfs on " RUNNER_STAGE);
	for (i = 0; i < l->nstage; i++) {
		if (l->stage[i].dir) {
			if (mkdir(l->stage[i].dst, 0755) != 0)
				runner_local_child_fail(a, l->stage[i].dst);
		} else {
			if ((fd = open(l->stage[i].dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
				runner_local_child_fail(a, l->stage[i].dst);
			close(fd);
		}
		runner_local_child_fd_path(src, sizeof src, fds[i]);
		if (mount(src, l->stage[i].dst, NULL, MS_BIND | MS_REC, NULL) != 0)
			runner_local_child_fail(a, l->stage[i].src);
		close(fds[i]);
	}
}

/*
 * In the child: set up and exec; never returns. A failure is reported
 * in a->rep (the parent reads it when clone returns); a->statusfd (or
 * -1) is handed to bwrap as descriptor 4. The parent has blocked every
 * signal: the handlers here are still the gateway's until reset.
 */
static void RUNNER_CHILD_CODE __attribute__((noreturn))
runner_local_child(struct runner_local_child_args *a)
{
	const struct runner_local_launch *l = a->l;
	int statusfd = a->statusfd;
	struct sigaction sa;
	struct rlimit rl;
	sigset_t none;
	int fd, sig;

	/*
	 * First, drop every descriptor inherited from the gateway: a program
	 * being downloaded is open for writing in the gateway, and a child
	 * holding that descriptor makes exec of the program fail with
	 * ETXTBSY in another game. bwrap's status goes to 4 (inherited: a
	 * copy above 10 first, so that dup2 never meets itself); nothing else
	 * stays open from 3 on.
	 */
	if (statusfd >= 0 && ((statusfd = fcntl(statusfd, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    dup2(statusfd, 4) < 0))
		runner_local_child_fail(a, "dup");
	if (statusfd >= 0) {
		close_range(3, 3, 0);
		close_range(5, ~0U, 0);
	} else
		close_range(3, ~0U, 0);
	setpgid(0, 0);
	/* Every disposition back to the default (a handler would run the gateway's code). */
	memset(&sa, 0, sizeof sa);
	for (sig = 1; sig < NSIG; sig++) {
		struct sigaction old;

		if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &old) != 0 ||
		    old.sa_handler == SIG_DFL)
			continue;
		sa.sa_handler = SIG_DFL;
		sigaction(sig, &sa, NULL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* As ourselves: the task folder may be out of runner.user's reach. */
	if (chdir(l->dir) != 0)
		runner_local_child_fail(a, l->dir);
	/* output/ is fresh for each attempt; never follow what is there anyway. */
	if ((fd = open(l->log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
	    0644)) < 0)
		runner_local_child_fail(a, l->log);
	if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		runner_local_child_fail(a, "dup2");
	close(fd);
	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 || dup2(fd, STDIN_FILENO) < 0)
		runner_local_child_fail(a, "/dev/null");
	close(fd);
	if (l->cpu > 0) {
		rl.rlim_cur = (rlim_t)l->cpu;
		rl.rlim_max = (rlim_t)l->cpu + 5;
		setrlimit(RLIMIT_CPU, &rl);
	}
	if (l->mem > 0) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)l->mem * 1024 * 1024;
		setrlimit(RLIMIT_AS, &rl);
	}
	if (l->nstage > 0)
		runner_local_child_stage(a);
	if (l->drop) {
		/*
		 * For real, before any namespace: nothing may map the game to
		 * root. Raw calls: this process alone, not glibc's every-thread
		 * broadcast, which would reach the gateway's threads.
		 */
		if (syscall(RUNNER_SYS_SETGROUPS, 0, NULL) != 0 ||
		    syscall(RUNNER_SYS_SETRESGID, l->gid, l->gid, l->gid) != 0 ||
		    syscall(RUNNER_SYS_SETRESUID, l->uid, l->uid, l->uid) != 0)
			runner_local_child_fail(a, "dropping to runner.user");
		if (syscall(RUNNER_SYS_SETUID, 0) != -1 || geteuid() != l->uid ||
		    getegid() != l->gid) {
			errno = EPERM;
			runner_local_child_fail(a, "runner.user kept root's privileges");
		}
	}
	if (l->reach && chdir(l->dir) != 0)
		runner_local_child_fail(a, l->dir);
	/*
	 * A gateway killed with -9 takes its games along. Set after the uid
	 * change, which clears it; the parent may be gone already.
	 */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != l->parent)
		_exit(127);
	/* No setuid program gives the game back what it lost. */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	execve(l->argv[0], l->argv, l->envp);
	runner_local_child_fail(a, l->argv[0]);
}

static int RUNNER_CHILD_CODE
runner_local_child_main(void *arg)
{
	runner_local_child(arg);
}

/* ---- jobs ---- */

static void
runner_local_exec_close(struct runner_local_job *j)
{
	if (j->exec_ev != NULL)
		event_free(j->exec_ev);
	j->exec_ev = NULL;
}

/*
 * The child's report from, in words in rep: 1 if set-up or exec failed,
 * 0 if it exec'd.
 */
static int
runner_local_exec_status(const struct runner_local_exec_report *from,
    struct runner_local_exec_report *rep)
{
	memset(rep, 0, sizeof *rep);
	if (!from->failed)
		return 0;
	rep->failed = 1;
	rep->err = from->err;
	snprintf(rep->what, sizeof rep->what, "%.300s: %s", from->what, strerror(from->err));
	return 1;
}

/* The outcome of a failed set-up or exec: E2BIG is the task's, the rest ours. */
static void
runner_local_exec_outcome(struct runner_local_job *j, struct runner_local_exec_report *rep, struct runner_outcome *o)
{
	memset(o, 0, sizeof *o);
	o->end = RUNNER_INFRA;
	if (rep->err == E2BIG) {
		o->end = RUNNER_INVALID;
		snprintf(rep->what, sizeof rep->what, "the task's values do not fit the game's "
		    "command line and environment (execve: %s)", strerror(E2BIG));
	}
	o->message = rep->what;
	log_error("cannot start the game", "task=%s attempt=%d error=%s", log_q(j->task_id),
	    j->attempt, log_q(rep->what));
}

static void
runner_local_game_track(struct runner_local_job *j, pid_t pid)
{
	j->game = pid;
	/* A pidfd: the pid of a game reaped elsewhere is never signalled. */
	j->gamefd = pidfd_open(pid, 0);
	log_debug("game sandboxed", "task=%s attempt=%d pid=%ld", log_q(j->task_id), j->attempt,
	    (long)pid);
}

/* Has the sandbox's first process, hence its whole pid namespace, ended? */
static int
runner_local_game_ended(const struct runner_local_job *j)
{
	struct pollfd pfd = { j->gamefd, POLLIN, 0 };

	return j->gamefd < 0 || poll(&pfd, 1, 0) != 0;
}

/* Read what bwrap said on its status pipe; learn the game's pid. */
static void
runner_local_status_read(struct runner_local_job *j)
{
	char buf[512];
	ssize_t n;
	size_t room;
	long pid;
	int code, eof = 0;

	if (j->statusfd < 0)
		return;
	for (;;) {
		n = read(j->statusfd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			eof = n == 0 || errno != EAGAIN;
			break;
		}
		room = sizeof j->status - 1 - j->status_len;
		memcpy(j->status + j->status_len, buf, (size_t)n < room ? (size_t)n : room);
		j->status_len += (size_t)n < room ? (size_t)n : room;
	}
	if (j->game == 0) {
		runner_local_status_parse(j->status, j->status_len, &pid, &code);
		if (pid > 0)
			runner_local_game_track(j, (pid_t)pid);
	}
	if (eof) {
		if (j->status_ev != NULL)
			event_free(j->status_ev);
		j->status_ev = NULL;
		close(j->statusfd);
		j->statusfd = -1;
	}
}

static void
runner_local_status_cb(evutil_socket_t fd, short what, void *arg)
{
	runner_local_status_read(arg);
}

static void
runner_local_job_end(struct runner_local_job *j, const struct runner_outcome *o)
{
	struct runner_local *r = j->r;

	if (j->deadline != NULL)
		event_free(j->deadline);
	if (j->kill_timer != NULL)
		event_free(j->kill_timer);
	if (j->game_ev != NULL)
		event_free(j->game_ev);
	if (j->status_ev != NULL)
		event_free(j->status_ev);
	j->deadline = j->kill_timer = j->game_ev = j->status_ev = NULL;
	reaper_cancel(j->watch);
	j->watch = NULL;
	runner_local_exec_close(j);
	if (j->statusfd >= 0)
		close(j->statusfd);
	if (j->gamefd >= 0)
		close(j->gamefd);
	/* Stragglers the game left behind in its group go too. */
	if (j->pid > 0)
		kill(-j->pid, SIGKILL);
	LIST_REMOVE(j, entry);
	r->njobs--;
	if (!j->abandoned && o != NULL)
		j->done_cb(&j->gen, o, j->arg);
	free(j->last_message);
	free(j->task_id);
	free(j);
}

static void
runner_local_game_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner_local_job *j = arg;

	runner_local_job_end(j, &j->last);
}

/*
 * Our child ended with outcome o. A sandboxed game that outlives bwrap
 * (bwrap killed) dies with it, and its namespace after it: the job ends
 * once it has, so nothing of the task runs when its result is made.
 */
static void
runner_local_job_finish(struct runner_local_job *j, const struct runner_outcome *o)
{
	if (j->pid > 0)
		kill(-j->pid, SIGKILL);
	j->pid = 0;
	if (runner_local_game_ended(j)) {
		runner_local_job_end(j, o);
		return;
	}
	log_debug("sandbox ended before its game; waiting for the game's namespace to end",
	    "task=%s attempt=%d game_pid=%ld", log_q(j->task_id), j->attempt, (long)j->game);
	pidfd_send_signal(j->gamefd, SIGKILL, NULL, 0);
	j->last = *o;
	if (o->message != NULL)
		j->last.message = j->last_message = xstrdup(o->message);
	j->game_ev = event_new(j->r->base, j->gamefd, EV_READ, runner_local_game_cb, j);
	event_add(j->game_ev, NULL);
}

/* The reaper collected our child (bwrap, or the game without a sandbox). */
static void
runner_local_reaped_cb(pid_t pid, int status, void *arg)
{
	struct runner_local_job *j = arg, *k;
	struct runner_outcome o;
	struct runner_local_exec_report rep;
	char why[512];
	long game;
	int code;

	j->watch = NULL;	/* the reaper freed it */
	/* First what bwrap said: a game collected as an orphan is known then. */
	LIST_FOREACH(k, &j->r->jobs, entry)
		runner_local_status_read(k);
	memset(&o, 0, sizeof o);
	if (j->state == JOB_STOPPING)
		o.end = j->end;
	else
		o.end = RUNNER_EXITED;
	if (status == -1) {
		/* Collected elsewhere: how it ended is unknown. */
		o.end = RUNNER_INFRA;
		o.message = "the game's process was collected elsewhere: how it ended is unknown";
	} else if (WIFEXITED(status))
		o.exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status)) {
		o.signal = WTERMSIG(status);
		o.exit_code = 128 + o.signal;
	}
	log_info("game process ended", "task=%s attempt=%d pid=%ld exit_code=%d signal=%d",
	    log_q(j->task_id), j->attempt, (long)pid, o.exit_code, o.signal);
	/* It ended before we heard from exec: did exec fail? */
	if (j->exec_ev != NULL) {
		if (runner_local_exec_status(&j->exec, &rep) == 1)
			runner_local_exec_outcome(j, &rep, &o);
		else {
			runner_local_exec_close(j);
			if (!j->abandoned)
				j->started_cb(&j->gen, j->arg);
		}
	}
	if (j->r->bwrap && o.end == RUNNER_EXITED) {
		/* bwrap's own exit code is the game's, or 1 for its own failure. */
		runner_local_status_read(j);
		runner_local_status_parse(j->status, j->status_len, &game, &code);
		o.signal = 0;
		if (code >= 0)
			o.exit_code = code;
		else {
			o.end = RUNNER_INFRA;
			if (WIFSIGNALED(status))
				snprintf(why, sizeof why, "the sandbox (bwrap) was killed by "
				    "signal %d %s", WTERMSIG(status), j->game > 0 ?
				    "(how the game ended is unknown)" : "before the game ran");
			else
				snprintf(why, sizeof why, "the sandbox (bwrap) could not start the "
				    "game (exit code %d; its reason is in log.txt)", o.exit_code);
			o.message = why;
			log_error("cannot start the game", "task=%s attempt=%d error=%s",
			    log_q(j->task_id), j->attempt, log_q(why));
		}
	}
	j->state = JOB_DEAD;
	runner_local_job_finish(j, &o);
}

static void
runner_local_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner_local_job *j = arg;

	log_warn("game ignored SIGTERM, sending SIGKILL", "task=%s attempt=%d pid=%ld",
	    log_q(j->task_id), j->attempt, (long)j->pid);
	kill(-j->pid, SIGKILL);
	if (j->gamefd >= 0)
		pidfd_send_signal(j->gamefd, SIGKILL, NULL, 0);
}

static void
runner_local_stop(struct runner_local_job *j, enum runner_end why)
{
	struct timeval tv = { 0, 0 };

	if (j->state != JOB_RUNNING)
		return;
	j->state = JOB_STOPPING;
	j->end = why;
	runner_local_status_read(j);
	/*
	 * In the sandbox, SIGTERM goes to the game's own group (it is in a
	 * session of its own): bwrap would die of it and take the game along
	 * at once, leaving it no grace. Not started yet: bwrap goes.
	 */
	if (!runner_local_game_ended(j))
		kill(-j->game, SIGTERM);
	else
		kill(-j->pid, SIGTERM);
	tv.tv_sec = config_get_int(j->r->conf, "runner", "kill_grace_s");
	j->kill_timer = evtimer_new(j->r->base, runner_local_kill_cb, j);
	evtimer_add(j->kill_timer, &tv);
}

static void
runner_local_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner_local_job *j = arg;

	log_warn("game past its deadline, stopping it", "task=%s attempt=%d pid=%ld",
	    log_q(j->task_id), j->attempt, (long)j->pid);
	runner_local_stop(j, RUNNER_TIMEOUT);
}

/* Is some process of group pgid still working in dir? Then kill the group. */
static int
runner_local_kill_leftover(const char *dir, pid_t pgid)
{
	char link[64], cwd[PATH_MAX];
	struct dirent *de;
	DIR *d;
	ssize_t n;
	int found = 0;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && !found) {
		long pid = strtol(de->d_name, NULL, 10);
		if (pid <= 0 || getpgid((pid_t)pid) != pgid)
			continue;
		snprintf(link, sizeof link, "/proc/%ld/cwd", pid);
		if ((n = readlink(link, cwd, sizeof cwd - 1)) <= 0)
			continue;
		cwd[n] = '\0';
		/* Same group and inside the task folder (not t10 for t1): a previous life's game. */
		found = strncmp(cwd, dir, strlen(dir)) == 0 &&
		    (cwd[strlen(dir)] == '\0' || cwd[strlen(dir)] == '/');
	}
	closedir(d);
	if (found)
		kill(-pgid, SIGKILL);
	return found;
}

/* A claim's process group: stop it if it still works in its task's folder. */
static void
runner_local_reap_one(const char *task_id, int attempt, pid_t pgid, void *arg)
{
	const struct runner_local *r = arg;
	char *dir;

	xasprintf(&dir, "%s/tasks/%s", config_get(r->conf, "gateway", "state_dir"), task_id);
	if (runner_local_kill_leftover(dir, pgid))
		log_warn("stopped a game left running by a previous gateway", "dir=%s attempt=%d "
		    "pgid=%ld", log_q(dir), attempt, (long)pgid);
	free(dir);
}

static void
runner_local_exec_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner_local_job *j = arg;
	struct runner_outcome o;
	struct runner_local_exec_report rep;
	int rc = runner_local_exec_status(&j->exec, &rep);

	runner_local_exec_close(j);
	if (j->abandoned)
		return;		/* its task is gone; the reaper collects the child */
	if (rc == 1) {
		/* Set-up or exec failed: ours, or the task's (E2BIG); not the user's. */
		runner_local_exec_outcome(j, &rep, &o);
		j->done_cb(&j->gen, &o, j->arg);
		/* The reaper collects the child; the callback has been given. */
		j->abandoned = 1;
		return;
	}
	log_info("game started", "task=%s attempt=%d pid=%ld timeout_s=%ld", log_q(j->task_id),
	    j->attempt, (long)j->pid, j->timeout_s);
	j->started_cb(&j->gen, j->arg);
}

/* Close what is left of bwrap's status pipe. */
static void
runner_local_pipes_close(int statuspipe[2])
{
	int i;

	for (i = 0; i < 2; i++) {
		if (statuspipe[i] >= 0)
			close(statuspipe[i]);
		statuspipe[i] = -1;
	}
}

/*
 * Start the child of launch l on stack (RUNNER_CHILD_STACK bytes), with
 * bwrap's status pipe statuspipe (or -1s). Returns once the child has
 * exec'd or failed: its pid, with its report in rep (rep->failed), the
 * pipe's write end closed and set to -1; -1 with why filled when it
 * could not start.
 */
static pid_t
runner_local_spawn(const struct runner_local_launch *l, void *stack, int statuspipe[2],
    struct runner_local_exec_report *rep, char *why, size_t len)
{
	struct runner_local_child_args a;
	sigset_t all, old;
	pid_t pid;
	int err;

	memset(&a, 0, sizeof a);
	a.l = l;
	a.statusfd = statuspipe[1];
	/* No handler of the gateway may run in the child before it resets them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(runner_local_child_main, (char *)stack + RUNNER_CHILD_STACK,
	    CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (statuspipe[1] >= 0)
		close(statuspipe[1]);
	statuspipe[1] = -1;
	if (pid < 0) {
		snprintf(why, len, "clone: %s", strerror(err));
		return -1;
	}
	/*
	 * The child has exec'd or exited (CLONE_VFORK): what it wrote in
	 * a.rep is all it will write.
	 */
	*rep = a.rep;
	/* The child set its group before exec: the parent resumed only after that. */
	return pid;
}

/* bwrap's status pipe when sandboxed (-1s otherwise). */
static int
runner_local_pipes(const struct runner_local *r, int statuspipe[2], char *why, size_t len)
{
	statuspipe[0] = statuspipe[1] = -1;
	if (r->bwrap && pipe2(statuspipe, O_CLOEXEC) != 0) {
		snprintf(why, len, "pipe: %s", strerror(errno));
		runner_local_pipes_close(statuspipe);
		return -1;
	}
	if (statuspipe[0] >= 0)
		fcntl(statuspipe[0], F_SETFL, O_NONBLOCK);
	return 0;
}

static const struct runner_ops runner_local_ops;

static struct runner_job *
runner_local_start(struct runner *rr, const struct runner_req *req, runner_started_cb *started,
    runner_done_cb *done, void *arg)
{
	struct runner_local *r = (struct runner_local *)rr;
	struct runner_local_job *j = xcalloc(1, sizeof *j);
	struct timeval tv = { req->timeout_s, 0 };
	struct runner_local_launch *l = NULL;
	struct runner_outcome o;
	char why[512], *cause = NULL;
	int statuspipe[2];
	pid_t pid;

	j->gen.ops = &runner_local_ops;
	j->r = r;
	j->statusfd = j->gamefd = -1;
	j->done_cb = done;
	j->arg = arg;
	j->task_id = xstrdup(req->task_id);
	j->attempt = req->attempt;
	LIST_INSERT_HEAD(&r->jobs, j, entry);
	r->njobs++;
	memset(&o, 0, sizeof o);
	o.end = RUNNER_INFRA;
	if (runner_local_workspace_prepare(r, req, &cause) != 0 ||
	    (l = runner_local_launch_new(r, r->argv, req, r->bwrap ? 4 : -1, &o.end, &cause)) == NULL) {
		snprintf(why, sizeof why, "%s", cause);
		free(cause);
		goto fail;
	}
	/* The child reports a failed set-up or exec in j->exec. */
	if (runner_local_pipes(r, statuspipe, why, sizeof why) != 0)
		goto fail;
	if ((pid = runner_local_spawn(l, r->stack, statuspipe, &j->exec, why, sizeof why)) < 0) {
		runner_local_pipes_close(statuspipe);
		goto fail;
	}
	runner_local_launch_free(l);
	j->pid = pid;
	/* Watched before the loop runs again: its SIGCHLD is ours. */
	j->watch = reaper_watch(r->base, pid, runner_local_reaped_cb, j);
	claims_note_pid(r->journal, req->task_id, req->attempt, pid);
	j->state = JOB_RUNNING;
	j->timeout_s = req->timeout_s;
	j->started_cb = started;
	/* The deadline runs from the launch: a game stuck before exec still ends. */
	j->deadline = evtimer_new(r->base, runner_local_deadline_cb, j);
	evtimer_add(j->deadline, &tv);
	/*
	 * The child has exec'd or failed by now (CLONE_VFORK): j->exec holds
	 * its report. Said from the loop's next turn, not from inside
	 * runner_start.
	 */
	j->exec_ev = event_new(r->base, -1, 0, runner_local_exec_cb, j);
	event_active(j->exec_ev, EV_READ, 0);
	if ((j->statusfd = statuspipe[0]) >= 0) {
		j->status_ev = event_new(r->base, j->statusfd, EV_READ | EV_PERSIST,
		    runner_local_status_cb, j);
		event_add(j->status_ev, NULL);
	}
	return &j->gen;

fail:
	runner_local_launch_free(l);
	log_error("cannot start the game", "task=%s attempt=%d error=%s", log_q(req->task_id),
	    req->attempt, log_q(why));
	o.message = why;
	j->state = JOB_DEAD;
	runner_local_job_end(j, &o);
	return NULL;
}

static void
runner_local_cancel(struct runner_job *jj)
{
	runner_local_stop((struct runner_local_job *)jj, RUNNER_CANCELLED);
}

static void
runner_local_abandon(struct runner_job *jj)
{
	struct runner_local_job *j = (struct runner_local_job *)jj;

	j->abandoned = 1;
	if (j->state == JOB_RUNNING || j->state == JOB_STOPPING) {
		kill(-j->pid, SIGKILL);
		if (j->gamefd >= 0)
			pidfd_send_signal(j->gamefd, SIGKILL, NULL, 0);
	}
	/* Freed when the reaper collects it; the callback is not called. */
}

static pid_t
runner_local_pid(const struct runner_job *j)
{
	return ((const struct runner_local_job *)j)->pid;
}

static size_t
runner_local_active(const struct runner *r)
{
	return ((const struct runner_local *)r)->njobs;
}

/* ---- start-up ---- */

/*
 * Run true the way a game runs, in a task folder of its own, once: the
 * sandbox works here (bwrap, user namespaces, runner.user, the game's
 * binary, runner.ro_paths) or the gateway refuses to start. *ms is how
 * long the launch took.
 */
static int
runner_local_probe(struct runner_local *r, long long *ms, char **cause)
{
	struct runner_req req;
	struct runner_local_launch *l = NULL;
	struct runner_local_exec_report raw, rep;
	enum runner_end end;
	char *dir, *p, *log = NULL, *game[2] = { NULL, NULL }, why[512], status[1024];
	int statuspipe[2] = { -1, -1 }, wst = 0, code = -1;
	int64_t start = util_mono_ms();
	long child;
	ssize_t n;
	size_t len = 0;
	pid_t pid;

	*cause = NULL;
	xasprintf(&dir, "%s/tasks/.sandbox-probe", config_get(r->conf, "gateway", "state_dir"));
	util_rmtree(dir);
	memset(&req, 0, sizeof req);
	req.task_id = "sandbox-probe";
	req.attempt = 1;
	req.game = "probe";
	req.dir = dir;
	req.entry = "probe";
	req.params = "{}";
	/* Made like a task's folder (folders.c): 0755 whatever the umask. */
	xasprintf(&p, "%s/output", dir);
	if (util_mkdirs(p, 0755, cause) == 0) {
		free(p);
		xasprintf(&p, "%s/input", dir);
		if (util_mkdirs(p, 0755, cause) == 0 && (chmod(dir, 0755) != 0 ||
		    chmod(p, 0755) != 0)) {
			xasprintf(cause, "chmod %s: %s", p, strerror(errno));
		}
		free(p);
		xasprintf(&p, "%s/output", dir);
		if (*cause == NULL && chmod(p, 0755) != 0)
			xasprintf(cause, "chmod %s: %s", p, strerror(errno));
	}
	free(p);
	if (*cause != NULL || (game[0] = util_which("true", cause)) == NULL ||
	    runner_local_workspace_prepare(r, &req, cause) != 0 ||
	    (l = runner_local_launch_new(r, game, &req, r->bwrap ? 4 : -1, &end, cause)) == NULL)
		goto out;
	if (runner_local_pipes(r, statuspipe, why, sizeof why) != 0 ||
	    (pid = runner_local_spawn(l, r->stack, statuspipe, &raw, why, sizeof why)) < 0) {
		*cause = xstrdup(why);
		goto out;
	}
	while (waitpid(pid, &wst, WNOHANG) == 0) {
		if (util_mono_ms() - start > 30000) {
			kill(-pid, SIGKILL);
			waitpid(pid, &wst, 0);
			*cause = xstrdup("it did not end within 30 s");
			goto out;
		}
		poll(NULL, 0, 2);
	}
	*ms = util_mono_ms() - start;
	if (runner_local_exec_status(&raw, &rep) == 1) {
		*cause = xstrdup(rep.what);
		goto out;
	}
	while (statuspipe[0] >= 0 && len < sizeof status - 1 &&
	    (n = read(statuspipe[0], status + len, sizeof status - 1 - len)) > 0)
		len += (size_t)n;
	if (r->bwrap)
		runner_local_status_parse(status, len, &child, &code);
	else if (WIFEXITED(wst))
		code = WEXITSTATUS(wst);
	if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0 || code != 0) {
		/* bwrap says why on its stderr: the probe's log.txt. */
		xasprintf(&p, "%s/output/log.txt", dir);
		log = util_read_file(p, 1024, NULL, cause);
		free(p);
		free(*cause);
		if (log != NULL)
			log[strcspn(log, "\n")] = '\0';
		xasprintf(cause, "%s", log != NULL && *log != '\0' ? log : "it failed and said nothing");
	}
out:
	runner_local_pipes_close(statuspipe);
	runner_local_launch_free(l);
	free(game[0]);
	free(log);
	util_rmtree(dir);
	free(dir);
	return *cause == NULL ? 0 : -1;
}

static void runner_local_free(struct runner *);

static const struct runner_ops runner_local_ops = {
	"local", runner_local_start, runner_local_cancel, runner_local_abandon, runner_local_pid, runner_local_active, runner_local_free, 1, NULL,
};

struct runner *
runner_local_new(struct event_base *base, const struct config *conf, char **cause)
{
	struct runner_local *r = xcalloc(1, sizeof *r);
	const char *cmd = config_get(conf, "runner", "command");
	const char *user = config_get(conf, "runner", "user");
	char *path, *why = NULL;
	struct passwd *pw;
	long long ms = 0;

	r->gen.ops = &runner_local_ops;
	r->base = base;
	r->conf = conf;
	r->pid = getpid();
	r->journal = claims_dir(conf);
	LIST_INIT(&r->jobs);
	r->stack = mmap(NULL, RUNNER_CHILD_STACK, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (r->stack == MAP_FAILED)
		fatalx("mmap: %s", strerror(errno));
	if (cmd == NULL || *cmd == '\0') {
		xasprintf(cause, "runner.command is not set");
		goto fail;
	}
	r->argv = runner_local_split(cmd);
	if ((path = util_which(r->argv[0], &why)) == NULL) {
		xasprintf(cause, "runner.command: %s", why);
		goto fail;
	}
	free(r->argv[0]);
	r->argv[0] = path;
	r->bwrap = strcmp(config_get(conf, "runner", "sandbox"), "bwrap") == 0;
	if (geteuid() == 0) {
		if ((pw = getpwnam(user)) == NULL) {
			xasprintf(cause, "runner.user %s does not exist: games never run as root "
			    "(scripts/setup.sh creates %s; or name another unprivileged user)", user,
			    user);
			goto fail;
		}
		if (pw->pw_uid == 0 || pw->pw_gid == 0) {
			xasprintf(cause, "runner.user %s is root (uid or gid 0): games never run as "
			    "root", user);
			goto fail;
		}
		r->drop = 1;
		r->uid = pw->pw_uid;
		r->gid = pw->pw_gid;
	}
	if (runner_local_ro_paths_parse(r, cause) != 0)
		goto fail;
	if (r->bwrap) {
		if ((r->bwrap_path = util_which(config_get(conf, "runner", "bwrap"), &why)) == NULL) {
			xasprintf(cause, "runner.sandbox = bwrap, but runner.bwrap %s (Debian package "
			    "bubblewrap; scripts/setup.sh installs it); runner.sandbox = none runs "
			    "games without a sandbox", why);
			goto fail;
		}
		r->system = runner_local_system_args();
	}
	if (runner_local_probe(r, &ms, &why) != 0) {
		if (r->bwrap)
			xasprintf(cause, "runner.sandbox = bwrap: a sandboxed game cannot start here: "
			    "%s (bubblewrap needs user namespaces; scripts/setup.sh installs it and "
			    "creates runner.user); runner.sandbox = none runs games without a sandbox",
			    why);
		else
			xasprintf(cause, "runner.sandbox = none: a game cannot start here as %s: %s "
			    "(runner.user must be able to reach the state folder)",
			    r->drop ? user : "the gateway's user", why);
		goto fail;
	}
	if (!r->drop)
		user = (pw = getpwuid(geteuid())) != NULL ? pw->pw_name : "?";
	if (r->bwrap)
		log_info("games run sandboxed", "sandbox=bwrap user=%s bwrap=%s launch_ms=%lld",
		    log_q(user), log_q(r->bwrap_path), ms);
	else
		log_warn("runner.sandbox = none: games run without a sandbox and can read what "
		    "their user can", "user=%s", log_q(user));
	/* Orphans of games (setsid, double forks) come to us; the reaper collects them. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	reaper_set_orphans(base, 1);
	r->orphans = 1;
	/* The claims left at start are the attempts that may have left something running. */
	claims_scan(r->journal, runner_local_reap_one, r);
	return &r->gen;

fail:
	free(why);
	runner_local_free(&r->gen);
	return NULL;
}

static void
runner_local_free(struct runner *rr)
{
	struct runner_local *r = (struct runner_local *)rr;
	struct pollfd pfd;
	struct runner_local_job *j;

	while ((j = LIST_FIRST(&r->jobs)) != NULL) {
		j->abandoned = 1;
		if (j->watch != NULL) {
			/* Collected here, now: the reaper must not call back a freed job. */
			reaper_cancel(j->watch);
			j->watch = NULL;
			kill(-j->pid, SIGKILL);
			while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		if (j->gamefd >= 0) {
			pidfd_send_signal(j->gamefd, SIGKILL, NULL, 0);
			pfd.fd = j->gamefd;
			pfd.events = POLLIN;
			poll(&pfd, 1, 5000);
		}
		runner_local_job_end(j, NULL);
	}
	if (r->orphans)
		reaper_set_orphans(r->base, 0);
	runner_local_strv_free(r->argv);
	runner_local_strv_free(r->system);
	runner_local_strv_free(r->ro_paths);
	free(r->bwrap_path);
	free(r->journal);
	if (r->stack != NULL && r->stack != MAP_FAILED)
		munmap(r->stack, RUNNER_CHILD_STACK);
	free(r);
}
