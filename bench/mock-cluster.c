/*
 * mock-cluster.c: librdkafka's mock cluster in a process of its own.
 *
 *   mock-cluster [-n BROKERS] [TOPIC:PARTITIONS ...]
 *
 * Creates the topics (default: paia.tasks:3 paia.results:1
 * paia.tasks.dlq:1, the embedded mode's), prints the bootstrap servers
 * on one line of standard output and serves until SIGTERM, SIGINT or
 * SIGHUP. Benchmarks start one per run, so that the gateway and its peer
 * meet the same fresh cluster and neither carries the cluster's CPU in
 * its own accounting (paia-gateway --embedded runs it in-process).
 *
 * It holds no state of its own: everything is librdkafka's (2.0.2 mock:
 * transactions commit, but offsets sent with a transaction are not
 * stored). It does not reach beyond loopback.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static void
mock_quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (level <= 3)
		fprintf(stderr, "mock-cluster: %s: %s\n", fac, buf);
}

static void __attribute__((noreturn))
mock_usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "mock-cluster: %s\n", why);
	fprintf(stderr, "usage: mock-cluster [-n brokers] [topic:partitions ...]\n");
	exit(2);
}

/* Create TOPIC:PARTITIONS; exits with a message when malformed. */
static void
mock_topic_create(rd_kafka_mock_cluster_t *mc, const char *arg)
{
	const char *colon = strrchr(arg, ':');
	char *end, topic[256];
	long n;

	if (colon == NULL || colon == arg || (size_t)(colon - arg) >= sizeof topic)
		mock_usage("a topic is TOPIC:PARTITIONS");
	errno = 0;
	n = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || n < 1 || n > 1000)
		mock_usage("partitions must be 1 to 1000");
	memcpy(topic, arg, (size_t)(colon - arg));
	topic[colon - arg] = '\0';
	if (rd_kafka_mock_topic_create(mc, topic, (int)n, 1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "mock-cluster: cannot create topic %s\n", topic);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	static const char *defaults[] = { "paia.tasks:3", "paia.results:1", "paia.tasks.dlq:1" };
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *rk;
	sigset_t set;
	char errstr[512], *end;
	long brokers = 1;
	int ch, i, sig;

	while ((ch = getopt(argc, argv, "n:h")) != -1) {
		switch (ch) {
		case 'n':
			brokers = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || brokers < 1 || brokers > 16)
				mock_usage("-n: brokers must be 1 to 16");
			break;
		default:
			mock_usage(NULL);
		}
	}
	/* Every thread librdkafka starts inherits this mask: sigwait below gets them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	rd_kafka_conf_set_log_cb(kc, mock_quiet_log);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof errstr)) == NULL) {
		fprintf(stderr, "mock-cluster: %s\n", errstr);
		return 1;
	}
	if ((mc = rd_kafka_mock_cluster_new(rk, (int)brokers)) == NULL) {
		fprintf(stderr, "mock-cluster: cannot start librdkafka's mock cluster\n");
		return 1;
	}
	if (optind == argc) {
		for (i = 0; i < 3; i++)
			mock_topic_create(mc, defaults[i]);
	}
	for (i = optind; i < argc; i++)
		mock_topic_create(mc, argv[i]);
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);
	while (sigwait(&set, &sig) != 0)
		;
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
