/*
 * bench/gpuprobe-bench.c: what the GPU prober costs the gateway, against the
 * way a shell script polls: `ssh host nvidia-smi --query-gpu=...` as a
 * process per node per round. Run by bench/gpuprobe, which starts the
 * loopback sshd nodes (tests/env/sshd.sh) with 8 GPUs each.
 *
 *   gpuprobe-bench -k KNOWN_HOSTS -i KEY -u USER -p PROC [-r ROUNDS]
 *                  [-R RUNS] HOST:PORT...
 *
 * ours: the prober's rounds back to back on kept sessions (the first
 *   round, with the SSH handshakes, is measured apart), the full probe
 *   (GPU list, process list, MIG list, cgroups, display); CPU of this
 *   process (getrusage RUSAGE_SELF) per round.
 * peer: per round one `ssh` process per node, all at once, then wait,
 *   as `for n in ...; do ssh $n nvidia-smi ... & done; wait` does; CPU of
 *   those processes (RUSAGE_CHILDREN) per round. It asks nvidia-smi for
 *   the GPU list only.
 * Runs alternate ours and peer; min and median per round of each, the
 * ratio, and memory: this process's RSS with the nodes' sessions open,
 * and the peak RSS of one ssh process. sshd's own CPU is counted on
 * neither side.
 */
#include "config.h"
#include "common.h"
#include "gpu.h"

#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

extern char **environ;

static struct event_base *base;
static struct gpu_prober *prober;
static struct event *next_round;
static int rounds_left, pending, failures;
static const char *known_hosts, *key, *user, *proc_root;

static double
cpu_ms(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static long
status_kb(const char *k)
{
	char line[256];
	long kb = -1;
	size_t n = strlen(k);
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, k, n) == 0 && line[n] == ':')
			kb = strtol(line + n + 1, NULL, 10);
	}
	if (f != NULL)
		fclose(f);
	return kb;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ---- ours ---- */

static void
round_cb(struct gpu_prober *p, const struct gpu_node *n, void *arg)
{
	if (n->stale != NULL || n->report == NULL || n->report->ngpus != 8) {
		fprintf(stderr, "gpuprobe-bench: node %s: %s\n", n->name,
		    n->stale != NULL ? n->stale : "not 8 GPUs");
		failures++;
	}
	if (--pending == 0) {
		if (--rounds_left > 0)
			event_active(next_round, 0, 0);
		else
			event_base_loopexit(base, NULL);
	}
}

static void
next_round_cb(evutil_socket_t fd, short what, void *arg)
{
	pending = (int)gpu_prober_count(prober);
	gpu_prober_round(prober);
}

/* CPU ms per round over n rounds of the prober. */
static double
ours(int n)
{
	double c0 = cpu_ms(RUSAGE_SELF);

	rounds_left = n;
	event_active(next_round, 0, 0);
	event_base_dispatch(base);
	return (cpu_ms(RUSAGE_SELF) - c0) / n;
}

/* ---- peer ---- */

static double
peer(char **nodes, int nnodes, int n, long *maxrss_kb)
{
	char port[16], *host, *colon, out[64];
	double c0 = cpu_ms(RUSAGE_CHILDREN);
	posix_spawn_file_actions_t fa;
	struct rusage ru;
	pid_t *pids = xcalloc((size_t)nnodes, sizeof *pids);
	int r, i, status;

	for (r = 0; r < n; r++) {
		for (i = 0; i < nnodes; i++) {
			const char *argv[] = { "ssh", "-q", "-i", key, "-p", port, "-o",
				"BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", NULL, "-l",
				user, NULL,
				"nvidia-smi --query-gpu=" GPU_QUERY_FIELDS
				" --format=csv,noheader,nounits", NULL };
			char kh[4096];

			host = xstrdup(nodes[i]);
			colon = strrchr(host, ':');
			*colon = '\0';
			snprintf(port, sizeof port, "%s", colon + 1);
			snprintf(kh, sizeof kh, "UserKnownHostsFile=%s", known_hosts);
			argv[11] = kh;
			argv[14] = host;
			snprintf(out, sizeof out, "/tmp/gpuprobe-bench.%d.%d", (int)getpid(), i);
			posix_spawn_file_actions_init(&fa);
			posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
			if (posix_spawnp(&pids[i], "ssh", &fa, NULL, (char *const *)argv,
			    environ) != 0)
				fatalx("posix_spawn ssh failed");
			posix_spawn_file_actions_destroy(&fa);
			free(host);
		}
		for (i = 0; i < nnodes; i++) {
			if (wait4(pids[i], &status, 0, &ru) < 0 || !WIFEXITED(status) ||
			    WEXITSTATUS(status) != 0) {
				fprintf(stderr, "gpuprobe-bench: ssh to %s failed\n", nodes[i]);
				failures++;
			}
			if (ru.ru_maxrss > *maxrss_kb)
				*maxrss_kb = ru.ru_maxrss;
			snprintf(out, sizeof out, "/tmp/gpuprobe-bench.%d.%d", (int)getpid(), i);
			if (r == n - 1 && util_file_size(out) < 8 * 80) {
				fprintf(stderr, "gpuprobe-bench: ssh to %s: short output\n", nodes[i]);
				failures++;
			}
			if (r == n - 1)
				unlink(out);
		}
	}
	free(pids);
	return (cpu_ms(RUSAGE_CHILDREN) - c0) / n;
}

int
main(int argc, char **argv)
{
	struct gpu_options o;
	struct gpu_node_options no;
	double *a, *b, first, t0;
	long ssh_rss = 0;
	int c, i, rounds = 40, runs = 5, peer_rounds;
	char *cause = NULL;

	while ((c = getopt(argc, argv, "k:i:u:p:r:R:")) != -1) {
		switch (c) {
		case 'k':
			known_hosts = optarg;
			break;
		case 'i':
			key = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'p':
			proc_root = optarg;
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'R':
			runs = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (known_hosts == NULL || key == NULL || user == NULL || argc == 0 || rounds < 1 ||
	    runs < 1) {
		fprintf(stderr, "usage: gpuprobe-bench -k KNOWN_HOSTS -i KEY -u USER [-p PROC]"
		    " [-r ROUNDS] [-R RUNS] HOST:PORT...\n");
		return 2;
	}
	log_set_level(LOG_LEVEL_ERROR);
	base = event_base_new();
	next_round = event_new(base, -1, 0, next_round_cb, NULL);
	memset(&o, 0, sizeof o);
	o.known_hosts = known_hosts;
	o.timeout_ms = 20000;
	o.interval_ms = 60000;
	o.proc_root = proc_root;
	if ((prober = gpu_prober_new(base, &o, round_cb, NULL, &cause)) == NULL)
		fatalx("%s", cause);
	for (i = 0; i < argc; i++) {
		char *h = xstrdup(argv[i]), *colon = strrchr(h, ':');

		if (colon == NULL)
			fatalx("%s: HOST:PORT expected", argv[i]);
		*colon = '\0';
		memset(&no, 0, sizeof no);
		no.host = h;
		no.port = atoi(colon + 1);
		no.user = user;
		no.key_file = key;
		if (gpu_prober_add(prober, &no, &cause) != 0)
			fatalx("%s", cause);
		free(h);
	}
	/* The first round opens the sessions: measured apart. */
	t0 = util_mono_ms();
	first = ours(1);
	printf("bench/gpuprobe: %d nodes x 8 GPUs on loopback sshd, %ld cores, %d rounds x %d runs\n",
	    argc, sysconf(_SC_NPROCESSORS_ONLN), rounds, runs);
	printf("first round (connect, handshake, auth): %.2f ms CPU, %.0f ms wall\n", first,
	    (double)(util_mono_ms() - t0));
	peer_rounds = rounds / 4 > 0 ? rounds / 4 : 1;
	a = xcalloc((size_t)runs, sizeof *a);
	b = xcalloc((size_t)runs, sizeof *b);
	for (i = 0; i < runs; i++) {
		t0 = util_mono_ms();
		a[i] = ours(rounds);
		printf("run %d: ours %.3f ms CPU/round (%.1f ms wall/round)", i + 1, a[i],
		    (util_mono_ms() - t0) / rounds);
		t0 = util_mono_ms();
		b[i] = peer(argv, argc, peer_rounds, &ssh_rss);
		printf(", peer %.1f ms CPU/round (%.1f ms wall/round)\n", b[i],
		    (util_mono_ms() - t0) / peer_rounds);
		fflush(stdout);
	}
	qsort(a, (size_t)runs, sizeof *a, cmp_double);
	qsort(b, (size_t)runs, sizeof *b, cmp_double);
	printf("ours: CPU per round min %.3f ms, median %.3f ms (%.3f ms per node)\n", a[0],
	    a[runs / 2], a[runs / 2] / argc);
	printf("peer (ssh processes): CPU per round min %.1f ms, median %.1f ms\n", b[0],
	    b[runs / 2]);
	printf("ratio (peer/ours, medians): %.0fx less CPU\n", b[runs / 2] / a[runs / 2]);
	printf("memory: this process %ld KiB RSS (peak %ld KiB) with %d sessions open;"
	    " one ssh process peaks at %ld KiB\n", status_kb("VmRSS"), status_kb("VmHWM"), argc,
	    ssh_rss);
	printf("target: <= 2 ms CPU per round: %s\n", a[runs / 2] <= 2.0 ? "met" : "MISSED");
	gpu_prober_free(prober);
	event_free(next_round);
	event_base_free(base);
	free(a);
	free(b);
	if (failures > 0) {
		fprintf(stderr, "gpuprobe-bench: %d failures\n", failures);
		return 1;
	}
	return 0;
}
