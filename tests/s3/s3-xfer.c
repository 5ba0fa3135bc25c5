/*
 * s3-xfer: one storage transfer through the gateway's own storage code
 * (libpaiagw), for the tests against a real S3 server (tests/s3/).
 *
 *   s3-xfer [-v] [-c FILE] [-o section.key=value]... get URL PATH
 *   s3-xfer [-v] [-c FILE] [-o section.key=value]... put PATH URL [TYPE]
 *
 * The configuration is read as paia-gateway reads it (file, PAIA_*
 * environment, -o). Prints one line on stdout:
 *   result=ok|permanent|transient|local|timeout bytes=N seconds=S mib_per_s=R
 *   retries=N maxrss_kb=K [error="..."]
 * and exits 0 (ok), 1 (permanent), 2 (transient), 3 (usage, config).
 */
#include "config.h"
#include "gateway.h"
#include "options.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

extern char **environ;

static struct event_base *base;
static enum storage_result outcome;
static char *outcome_error;
static int finished;

static void
done_cb(struct storage_xfer *x, enum storage_result r, const char *error, void *arg)
{
	outcome = r;
	outcome_error = error != NULL ? xstrdup(error) : NULL;
	finished = 1;
	event_base_loopbreak(base);
}

static void
usage(void)
{
	fprintf(stderr, "usage: s3-xfer [-v] [-c file] [-o section.key=value]... get URL PATH\n"
	    "       s3-xfer [-v] [-c file] [-o section.key=value]... put PATH URL [TYPE]\n");
	exit(3);
}

int
main(int argc, char **argv)
{
	struct config *conf = config_new(options_schema, options_passthrough);
	const char *file = NULL;
	char *cause = NULL, *sep, *dot, *q;
	struct evcurl *ec;
	struct storage *s;
	struct rusage ru;
	uint64_t in, out, retries;
	int64_t t0;
	double secs, bytes;
	int ch, verbose = 0, put, fd;

	while ((ch = getopt(argc, argv, "c:o:v")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'o':
			break;	/* applied after the file and the environment */
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (file != NULL && config_load_file(conf, file, &cause) != 0)
		goto bad;
	if (config_load_env(conf, environ, &cause) != 0)
		goto bad;
	optind = 1;
	while ((ch = getopt(argc, argv, "c:o:v")) != -1) {
		if (ch != 'o')
			continue;
		if ((sep = strchr(optarg, '=')) == NULL || (dot = strchr(optarg, '.')) == NULL ||
		    dot > sep)
			usage();
		*sep = *dot = '\0';
		if (config_set(conf, optarg, dot + 1, sep + 1, &cause) != 0)
			goto bad;
	}
	argc -= optind;
	argv += optind;
	if (argc < 3)
		usage();
	put = strcmp(argv[0], "put") == 0;
	if (!put && (strcmp(argv[0], "get") != 0 || argc != 3))
		usage();
	if (put && argc > 4)
		usage();
	log_set_level(verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN);

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	base = event_base_new();
	ec = evcurl_new(base);
	if ((s = storage_new(base, ec, conf, &cause)) == NULL)
		goto bad;
	if (storage_check_url(s, put ? argv[2] : argv[1], &cause) != 0)
		goto bad;
	t0 = util_mono_ms();
	if (put) {
		struct stat st;
		if ((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
			xasprintf(&cause, "%s: %s", argv[1], strerror(errno));
			goto bad;
		}
		storage_put(s, fd, st.st_size, argv[2], argc == 4 ? argv[3] : NULL, done_cb, NULL);
	} else {
		if ((fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
			xasprintf(&cause, "%s: %s", argv[2], strerror(errno));
			goto bad;
		}
		storage_get(s, argv[1], fd, 0, done_cb, NULL);
	}
	while (!finished)
		event_base_dispatch(base);
	secs = (double)(util_mono_ms() - t0) / 1000.0;
	storage_stats(s, &in, &out, &retries);
	bytes = (double)(put ? out : in);
	getrusage(RUSAGE_SELF, &ru);
	printf("result=%s bytes=%.0f seconds=%.3f mib_per_s=%.1f retries=%llu maxrss_kb=%ld",
	    outcome == STORAGE_OK ? "ok" : outcome == STORAGE_PERMANENT ? "permanent" :
	    outcome == STORAGE_TRANSIENT ? "transient" : outcome == STORAGE_LOCAL ? "local" : "timeout",
	    bytes, secs, secs > 0 ? bytes / 1048576.0 / secs : 0.0, (unsigned long long)retries,
	    ru.ru_maxrss);
	if (outcome_error != NULL) {
		q = log_quote(outcome_error);
		printf(" error=%s", q);
		free(q);
	}
	printf("\n");
	free(outcome_error);
	storage_free(s);
	evcurl_free(ec);
	event_base_free(base);
	config_free(conf);
	log_q_release();
	curl_global_cleanup();
	return outcome == STORAGE_OK ? 0 : outcome == STORAGE_PERMANENT ? 1 : 2;

bad:
	fprintf(stderr, "s3-xfer: %s\n", cause);
	free(cause);
	config_free(conf);
	return 3;
}
