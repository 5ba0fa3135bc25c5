/*
 * runner-local.c: the local runner: the game is a child process in the
 * task's folder, supervised like tmux's job.c. Each job leads its own
 * process group, so a deadline or cancel kills the whole group (the
 * game and whatever it started); stdout and stderr go to
 * output/log.txt; CPU and memory are capped with rlimits. The gateway
 * is a child subreaper, so orphans of a game are reaped here too.
 *
 * The runner knows nothing of Kafka or results: it reports how the
 * process ended.
 */
#include "config.h"
#include "gateway.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

enum job_state { JOB_RUNNING, JOB_STOPPING, JOB_DEAD };

struct local_job {
	struct runner_job gen;		/* first: the generic handle */
	struct local_runner *r;
	pid_t pid;
	int errfd;		/* exec status pipe, until exec or failure */
	struct event *exec_ev;
	char *task_id;
	long timeout_s;
	runner_started_cb *started_cb;
	enum job_state state;
	enum runner_end end;	/* why we are stopping */
	struct event *deadline;
	struct event *kill_timer;
	runner_done_cb *done_cb;
	void *arg;
	int abandoned;
	LIST_ENTRY(local_job) entry;
};
LIST_HEAD(job_list, local_job);

struct local_runner {
	struct runner gen;		/* first: the generic handle */
	struct event_base *base;
	const struct config *conf;
	char **argv;		/* runner.command split on spaces */
	struct event *sigchld;
	struct job_list jobs;
	size_t njobs;
};

static char **
runner_split(const char *cmd)
{
	char **argv = NULL, *copy = xstrdup(cmd), *tok, *save = NULL;
	size_t n = 0;

	for (tok = strtok_r(copy, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
		argv = xreallocarray(argv, n + 2, sizeof *argv);
		argv[n++] = xstrdup(tok);
	}
	free(copy);
	if (argv == NULL)
		argv = xcalloc(2, sizeof *argv);
	argv[n] = NULL;
	return argv;
}

static void
runner_exec_close(struct local_job *j)
{
	if (j->exec_ev != NULL)
		event_free(j->exec_ev);
	if (j->errfd >= 0)
		close(j->errfd);
	j->exec_ev = NULL;
	j->errfd = -1;
}

/*
 * Read the child's exec status: 1 and a reason in why if set-up or exec
 * failed, 0 once exec closed the pipe, -1 if nothing yet.
 */
static int
runner_exec_status(struct local_job *j, char *why, size_t len)
{
	ssize_t n;

	do
		n = read(j->errfd, why, len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	why[n > 0 ? n : 0] = '\0';
	return n > 0;
}

static void
runner_job_end(struct local_job *j, const struct runner_outcome *o)
{
	struct local_runner *r = j->r;

	if (j->deadline != NULL)
		event_free(j->deadline);
	if (j->kill_timer != NULL)
		event_free(j->kill_timer);
	j->deadline = j->kill_timer = NULL;
	runner_exec_close(j);
	/* Stragglers the game left behind in its group go too. */
	if (j->pid > 0)
		kill(-j->pid, SIGKILL);
	LIST_REMOVE(j, entry);
	r->njobs--;
	if (!j->abandoned && o != NULL)
		j->done_cb(&j->gen, o, j->arg);
	free(j->task_id);
	free(j);
}

static void
runner_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct local_runner *r = arg;
	struct local_job *j;
	struct runner_outcome o;
	char why[512];
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		LIST_FOREACH(j, &r->jobs, entry)
			if (j->pid == pid)
				break;
		if (j == NULL)
			continue;	/* an orphan we adopted as subreaper */
		memset(&o, 0, sizeof o);
		if (j->state == JOB_STOPPING)
			o.end = j->end;
		else
			o.end = RUNNER_EXITED;
		/* It ended before we heard from exec: did exec fail? */
		if (j->errfd >= 0) {
			if (runner_exec_status(j, why, sizeof why) == 1) {
				o.end = RUNNER_INFRA;
				o.message = why;
				log_error("cannot start the game", "task=%s error=%s", j->task_id,
				    log_q(why));
			} else {
				runner_exec_close(j);
				if (!j->abandoned)
					j->started_cb(&j->gen, j->arg);
			}
		}
		if (WIFEXITED(status))
			o.exit_code = WEXITSTATUS(status);
		else if (WIFSIGNALED(status)) {
			o.signal = WTERMSIG(status);
			o.exit_code = 128 + o.signal;
		}
		log_info("game process ended", "pid=%ld exit_code=%d signal=%d", (long)pid,
		    o.exit_code, o.signal);
		j->state = JOB_DEAD;
		runner_job_end(j, &o);
	}
}

static void
runner_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct local_job *j = arg;

	log_warn("game ignored SIGTERM, sending SIGKILL", "pid=%ld", (long)j->pid);
	kill(-j->pid, SIGKILL);
}

static void
runner_stop(struct local_job *j, enum runner_end why)
{
	struct timeval tv = { 0, 0 };

	if (j->state != JOB_RUNNING)
		return;
	j->state = JOB_STOPPING;
	j->end = why;
	kill(-j->pid, SIGTERM);
	tv.tv_sec = config_get_int(j->r->conf, "runner", "kill_grace_s");
	j->kill_timer = evtimer_new(j->r->base, runner_kill_cb, j);
	evtimer_add(j->kill_timer, &tv);
}

static void
runner_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct local_job *j = arg;

	log_warn("game past its deadline, stopping it", "pid=%ld", (long)j->pid);
	runner_stop(j, RUNNER_TIMEOUT);
}

/* In the child: report a failed set-up on fd and exit. */
static void
runner_child_fail(int fd, const char *what)
{
	char buf[512];
	int n;

	n = snprintf(buf, sizeof buf, "%s: %s", what, strerror(errno));
	if (write(fd, buf, (size_t)n) < 0) {
		/* The parent sees a short report; nothing else to do. */
	}
	_exit(127);
}

/*
 * In the child: set up and exec; never returns. The environment is
 * rebuilt from nothing: the gateway's own (Kafka credentials passed as
 * PAIA_KAFKA_* for example) must not reach user code.
 */
static void
runner_child(struct local_runner *r, const struct runner_req *req, int errfd)
{
	const char *path = getenv("PATH");
	char *log, *attempt;
	long long cpu = config_get_int(r->conf, "runner", "cpu_s");
	long long mem = config_get_int(r->conf, "runner", "memory_mb");
	struct rlimit rl;
	sigset_t none;
	int fd;

	/*
	 * First, drop every descriptor inherited from the gateway: a program
	 * being downloaded is open for writing in the gateway, and a child
	 * holding that descriptor makes exec of the program fail with
	 * ETXTBSY in another game. errfd moves to 3 and stays (close-on-exec).
	 */
	if (errfd != 3) {
		dup3(errfd, 3, O_CLOEXEC);
		errfd = 3;
	}
	close_range(4, ~0U, 0);
	setpgid(0, 0);
	/* A gateway killed with -9 takes its games along. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	if (chdir(req->dir) != 0)
		runner_child_fail(errfd, req->dir);
	xasprintf(&log, "%s/output/log.txt", req->dir);
	if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
		runner_child_fail(errfd, log);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if ((fd = open("/dev/null", O_RDONLY)) >= 0)
		dup2(fd, STDIN_FILENO);
	if (cpu > 0) {
		rl.rlim_cur = (rlim_t)cpu;
		rl.rlim_max = (rlim_t)cpu + 5;
		setrlimit(RLIMIT_CPU, &rl);
	}
	if (mem > 0) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)mem * 1024 * 1024;
		setrlimit(RLIMIT_AS, &rl);
	}
	path = xstrdup(path != NULL ? path : "/usr/local/bin:/usr/bin:/bin");
	clearenv();
	xasprintf(&attempt, "%d", req->attempt);
	setenv("PATH", path, 1);
	setenv("HOME", req->dir, 1);
	setenv("LANG", "C.UTF-8", 1);
	setenv("PAIA_TASK_ID", req->task_id, 1);
	setenv("PAIA_ATTEMPT", attempt, 1);
	setenv("PAIA_GAME", req->game, 1);
	setenv("PAIA_WORKSPACE", req->dir, 1);
	setenv("PAIA_ENTRY", req->entry, 1);
	setenv("PAIA_PARAMS", req->params, 1);
	execvp(r->argv[0], r->argv);
	runner_child_fail(errfd, r->argv[0]);
}

/*
 * <task>/game.pid names the game's process group, so that the next
 * gateway can stop what a killed one left running (its grandchildren
 * escape PR_SET_PDEATHSIG).
 */
static void
runner_pidfile_write(const char *dir, pid_t pid)
{
	char *path, buf[32], *cause = NULL;
	int n;

	xasprintf(&path, "%s/game.pid", dir);
	n = snprintf(buf, sizeof buf, "%ld\n", (long)pid);
	if (util_write_file(path, buf, (size_t)n, 0644, &cause) != 0) {
		log_warn("cannot write the game's pid file", "error=%s", log_q(cause));
		free(cause);
	}
	free(path);
}

/* Is some process of group pgid still working in dir? Then kill the group. */
static int
runner_kill_leftover(const char *dir, pid_t pgid)
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
		/* Same group and inside the task folder: a previous life's game. */
		found = strncmp(cwd, dir, strlen(dir)) == 0;
	}
	closedir(d);
	if (found)
		kill(-pgid, SIGKILL);
	return found;
}

/* Stop games a previous gateway left running under state_dir/tasks. */
static void
runner_reap_previous(const char *state_dir)
{
	char *tasks, *dir, *pidfile, *buf, *cause = NULL;
	struct dirent *de;
	long long pgid;
	DIR *d;

	xasprintf(&tasks, "%s/tasks", state_dir);
	if ((d = opendir(tasks)) == NULL) {
		free(tasks);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		xasprintf(&dir, "%s/%s", tasks, de->d_name);
		xasprintf(&pidfile, "%s/game.pid", dir);
		if ((buf = util_read_file(pidfile, 64, NULL, &cause)) == NULL) {
			free(cause);	/* no pid file: nothing ran there */
			cause = NULL;
		} else {
			buf[strcspn(buf, "\n")] = '\0';
			if (util_parse_int(buf, 2, INT32_MAX, &pgid) == 0 &&
			    runner_kill_leftover(dir, (pid_t)pgid))
				log_warn("stopped a game left running by a previous gateway",
				    "dir=%s pgid=%lld", dir, pgid);
			free(buf);
			unlink(pidfile);
		}
		free(pidfile);
		free(dir);
	}
	closedir(d);
	free(tasks);
}

static void
runner_exec_cb(evutil_socket_t fd, short what, void *arg)
{
	struct local_job *j = arg;
	struct runner_outcome o;
	char why[512];
	int rc = runner_exec_status(j, why, sizeof why);

	if (rc < 0)
		return;		/* spurious wakeup: the event persists */
	runner_exec_close(j);
	if (j->abandoned)
		return;		/* its task is gone; SIGCHLD reaps the child */
	if (rc == 1) {
		/* Set-up or exec failed: ours, not the user's. */
		log_error("cannot start the game", "task=%s error=%s", j->task_id, log_q(why));
		memset(&o, 0, sizeof o);
		o.end = RUNNER_INFRA;
		o.message = why;
		j->done_cb(&j->gen, &o, j->arg);
		/* SIGCHLD reaps the child; the callback has been given. */
		j->abandoned = 1;
		return;
	}
	log_info("game started", "task=%s pid=%ld timeout_s=%ld", j->task_id, (long)j->pid,
	    j->timeout_s);
	j->started_cb(&j->gen, j->arg);
}

static const struct runner_ops local_ops;

static struct runner_job *
local_start(struct runner *rr, const struct runner_req *req, runner_started_cb *started,
    runner_done_cb *done, void *arg)
{
	struct local_runner *r = (struct local_runner *)rr;
	struct local_job *j = xcalloc(1, sizeof *j);
	struct timeval tv = { req->timeout_s, 0 };
	struct runner_outcome o;
	char why[512];
	int errpipe[2];
	pid_t pid;

	j->gen.ops = &local_ops;
	j->r = r;
	j->errfd = -1;
	j->done_cb = done;
	j->arg = arg;
	LIST_INSERT_HEAD(&r->jobs, j, entry);
	r->njobs++;
	memset(&o, 0, sizeof o);
	o.end = RUNNER_INFRA;
	/* The child reports a failed set-up or exec here; exec closes it. */
	if (pipe2(errpipe, O_CLOEXEC) != 0) {
		snprintf(why, sizeof why, "pipe: %s", strerror(errno));
		goto fail;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		snprintf(why, sizeof why, "fork: %s", strerror(errno));
		close(errpipe[0]);
		close(errpipe[1]);
		goto fail;
	}
	if (pid == 0) {
		close(errpipe[0]);
		runner_child(r, req, errpipe[1]);
	}
	close(errpipe[1]);
	/* Both sides set the group, so a kill right after fork still lands. */
	setpgid(pid, pid);
	j->pid = pid;
	runner_pidfile_write(req->dir, pid);
	j->state = JOB_RUNNING;
	j->task_id = xstrdup(req->task_id);
	j->timeout_s = req->timeout_s;
	j->started_cb = started;
	/* The deadline runs from fork: a game stuck before exec still ends. */
	j->deadline = evtimer_new(r->base, runner_deadline_cb, j);
	evtimer_add(j->deadline, &tv);
	/* Exec's outcome arrives on the pipe; the loop does not wait for it. */
	j->errfd = errpipe[0];
	j->exec_ev = event_new(r->base, j->errfd, EV_READ | EV_PERSIST, runner_exec_cb, j);
	event_add(j->exec_ev, NULL);
	return &j->gen;

fail:
	log_error("cannot start the game", "task=%s error=%s", req->task_id, log_q(why));
	o.message = why;
	j->state = JOB_DEAD;
	runner_job_end(j, &o);
	return NULL;
}

static void
local_cancel(struct runner_job *jj)
{
	runner_stop((struct local_job *)jj, RUNNER_CANCELLED);
}

static void
local_abandon(struct runner_job *jj)
{
	struct local_job *j = (struct local_job *)jj;

	j->abandoned = 1;
	if (j->state == JOB_RUNNING || j->state == JOB_STOPPING)
		kill(-j->pid, SIGKILL);
	/* Freed when SIGCHLD reaps it; the callback is not called. */
}

static pid_t
local_pid(const struct runner_job *j)
{
	return ((const struct local_job *)j)->pid;
}

static size_t
local_active(const struct runner *r)
{
	return ((const struct local_runner *)r)->njobs;
}

static void local_free(struct runner *);

static const struct runner_ops local_ops = {
	"local", local_start, local_cancel, local_abandon, local_pid, local_active, local_free, 1, NULL,
};

struct runner *
runner_local_new(struct event_base *base, const struct config *conf, char **cause)
{
	struct local_runner *r = xcalloc(1, sizeof *r);
	const char *cmd = config_get(conf, "runner", "command");

	if (cmd == NULL || *cmd == '\0') {
		xasprintf(cause, "runner.command is not set");
		free(r);
		return NULL;
	}
	r->gen.ops = &local_ops;
	r->base = base;
	r->conf = conf;
	r->argv = runner_split(cmd);
	LIST_INIT(&r->jobs);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	runner_reap_previous(config_get(conf, "gateway", "state_dir"));
	r->sigchld = evsignal_new(base, SIGCHLD, runner_sigchld_cb, r);
	evsignal_add(r->sigchld, NULL);
	return &r->gen;
}

static void
local_free(struct runner *rr)
{
	struct local_runner *r = (struct local_runner *)rr;
	struct local_job *j;
	size_t i;

	while ((j = LIST_FIRST(&r->jobs)) != NULL) {
		j->abandoned = 1;
		if (j->pid > 0) {
			kill(-j->pid, SIGKILL);
			waitpid(j->pid, NULL, 0);
		}
		runner_job_end(j, NULL);
	}
	event_free(r->sigchld);
	for (i = 0; r->argv[i] != NULL; i++)
		free(r->argv[i]);
	free(r->argv);
	free(r);
}
