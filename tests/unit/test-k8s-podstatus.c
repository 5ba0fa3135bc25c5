/*
 * test-k8s-podstatus.c: kubectl's STATUS, READY and RESTARTS columns
 * (k8s_pod_summarize) as a table: each row is a pod's JSON, as the API
 * server sends it (trimmed to what matters), extracted by k8s_pod_extract
 * like the informer does, and what "kubectl get pods" prints for it:
 * the phases, status.reason (Evicted, DeadlineExceeded, NodeLost),
 * SchedulingGated, every init container rule (Init:i/n, Init:<reason>,
 * Init:ExitCode, Init:Signal, sidecars), container waiting and
 * terminated reasons, ExitCode and Signal, Completed with a container
 * still running, Terminating and Unknown while being deleted.
 */
#include "config.h"
#include "k8s.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common.h"

#define META "\"metadata\":{\"name\":\"p\",\"namespace\":\"paia\"," \
	"\"creationTimestamp\":\"2026-11-28T10:00:00Z\"}"
#define META_DEL "\"metadata\":{\"name\":\"p\",\"deletionTimestamp\":\"2026-11-28T10:05:00Z\"}"
#define ONE "\"spec\":{\"containers\":[{\"name\":\"game\"}]}"
#define RUNNING_C "{\"name\":\"game\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}}"

static const struct {
	const char *name;
	const char *json;
	const char *status;
	int ready, total, restarts;
} cases[] = {
	{ "pending, not scheduled",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Pending\"}}", "Pending", 0, 1, 0 },
	{ "pending, no status at all",
	  "{" META "," ONE "}", "", 0, 1, 0 },
	{ "ContainerCreating",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":"
	  "\"game\",\"ready\":false,\"restartCount\":0,\"state\":{\"waiting\":{\"reason\":"
	  "\"ContainerCreating\"}}}]}}", "ContainerCreating", 0, 1, 0 },
	{ "ErrImagePull",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":"
	  "\"game\",\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\",\"message\":\"not "
	  "found\"}}}]}}", "ErrImagePull", 0, 1, 0 },
	{ "ImagePullBackOff",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":"
	  "\"game\",\"state\":{\"waiting\":{\"reason\":\"ImagePullBackOff\"}}}]}}",
	  "ImagePullBackOff", 0, 1, 0 },
	{ "SchedulingGated",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":"
	  "\"PodScheduled\",\"status\":\"False\",\"reason\":\"SchedulingGated\"}]}}",
	  "SchedulingGated", 0, 1, 0 },
	{ "Unschedulable stays Pending",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":"
	  "\"PodScheduled\",\"status\":\"False\",\"reason\":\"Unschedulable\"}]}}",
	  "Pending", 0, 1, 0 },
	{ "running and ready",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
	  RUNNING_C "]}}", "Running", 1, 1, 0 },
	{ "running, not ready",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":"
	  "\"game\",\"ready\":false,\"state\":{\"running\":{}}}]}}", "Running", 0, 1, 0 },
	{ "CrashLoopBackOff with restarts",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":"
	  "\"game\",\"ready\":false,\"restartCount\":4,\"state\":{\"waiting\":{\"reason\":"
	  "\"CrashLoopBackOff\"}}}]}}", "CrashLoopBackOff", 0, 1, 4 },
	{ "Completed",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Succeeded\",\"containerStatuses\":[{\"name\":"
	  "\"game\",\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}}",
	  "Completed", 0, 1, 0 },
	{ "Error (exit code 3)",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Failed\",\"containerStatuses\":[{\"name\":"
	  "\"game\",\"state\":{\"terminated\":{\"exitCode\":3,\"reason\":\"Error\"}}}]}}",
	  "Error", 0, 1, 0 },
	{ "OOMKilled",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Failed\",\"containerStatuses\":[{\"name\":"
	  "\"game\",\"state\":{\"terminated\":{\"exitCode\":137,\"reason\":\"OOMKilled\"}}}]}}",
	  "OOMKilled", 0, 1, 0 },
	{ "terminated without a reason: ExitCode",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Failed\",\"containerStatuses\":[{\"name\":"
	  "\"game\",\"state\":{\"terminated\":{\"exitCode\":2}}}]}}", "ExitCode:2", 0, 1, 0 },
	{ "terminated by a signal: Signal",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Failed\",\"containerStatuses\":[{\"name\":"
	  "\"game\",\"state\":{\"terminated\":{\"exitCode\":137,\"signal\":9}}}]}}",
	  "Signal:9", 0, 1, 0 },
	{ "Evicted (status.reason wins over the container)",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Failed\",\"reason\":\"Evicted\",\"message\":"
	  "\"The node was low on resource: ephemeral-storage.\"}}", "Evicted", 0, 1, 0 },
	{ "Evicted, its container terminated with a reason",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Failed\",\"reason\":\"Evicted\","
	  "\"containerStatuses\":[{\"name\":\"game\",\"state\":{\"terminated\":{\"exitCode\":137,"
	  "\"reason\":\"Error\"}}}]}}", "Error", 0, 1, 0 },
	{ "DeadlineExceeded",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Failed\",\"reason\":\"DeadlineExceeded\","
	  "\"message\":\"Pod was active on the node longer than the specified deadline\"}}",
	  "DeadlineExceeded", 0, 1, 0 },
	{ "Completed while another container runs, Ready: Running",
	  "{" META ",\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},\"status\":{"
	  "\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
	  "\"containerStatuses\":[{\"name\":\"a\",\"ready\":true,\"state\":{\"running\":{}}},"
	  "{\"name\":\"b\",\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}}",
	  "Running", 1, 2, 0 },
	{ "Completed while another container runs, not Ready: NotReady",
	  "{" META ",\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},\"status\":{"
	  "\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"a\",\"ready\":true,\"state\":"
	  "{\"running\":{}}},{\"name\":\"b\",\"state\":{\"terminated\":{\"exitCode\":0,"
	  "\"reason\":\"Completed\"}}}]}}", "NotReady", 1, 2, 0 },
	{ "the first container's reason wins",
	  "{" META ",\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},\"status\":{"
	  "\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"a\",\"state\":{\"waiting\":"
	  "{\"reason\":\"ErrImagePull\"}}},{\"name\":\"b\",\"state\":{\"waiting\":{\"reason\":"
	  "\"ContainerCreating\"}}}]}}", "ErrImagePull", 0, 2, 0 },
	{ "Init:0/2",
	  "{" META ",\"spec\":{\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"i2\"}],"
	  "\"containers\":[{\"name\":\"game\"}]},\"status\":{\"phase\":\"Pending\","
	  "\"initContainerStatuses\":[{\"name\":\"i1\",\"state\":{\"running\":{}}},{\"name\":"
	  "\"i2\",\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}],\"containerStatuses\":"
	  "[{\"name\":\"game\",\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}}",
	  "Init:0/2", 0, 1, 0 },
	{ "Init:1/2",
	  "{" META ",\"spec\":{\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"i2\"}],"
	  "\"containers\":[{\"name\":\"game\"}]},\"status\":{\"phase\":\"Pending\","
	  "\"initContainerStatuses\":[{\"name\":\"i1\",\"state\":{\"terminated\":{\"exitCode\":0,"
	  "\"reason\":\"Completed\"}}},{\"name\":\"i2\",\"restartCount\":1,\"state\":{\"running\":"
	  "{}}}]}}", "Init:1/2", 0, 1, 1 },
	{ "Init:CrashLoopBackOff",
	  "{" META ",\"spec\":{\"initContainers\":[{\"name\":\"i1\"}],\"containers\":[{\"name\":"
	  "\"game\"}]},\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":"
	  "\"i1\",\"restartCount\":3,\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}}",
	  "Init:CrashLoopBackOff", 0, 1, 3 },
	{ "Init:Error",
	  "{" META ",\"spec\":{\"initContainers\":[{\"name\":\"i1\"}],\"containers\":[{\"name\":"
	  "\"game\"}]},\"status\":{\"phase\":\"Failed\",\"initContainerStatuses\":[{\"name\":"
	  "\"i1\",\"state\":{\"terminated\":{\"exitCode\":1,\"reason\":\"Error\"}}}]}}",
	  "Init:Error", 0, 1, 0 },
	{ "Init:ExitCode",
	  "{" META ",\"spec\":{\"initContainers\":[{\"name\":\"i1\"}],\"containers\":[{\"name\":"
	  "\"game\"}]},\"status\":{\"phase\":\"Failed\",\"initContainerStatuses\":[{\"name\":"
	  "\"i1\",\"state\":{\"terminated\":{\"exitCode\":5}}}]}}", "Init:ExitCode:5", 0, 1, 0 },
	{ "Init:Signal",
	  "{" META ",\"spec\":{\"initContainers\":[{\"name\":\"i1\"}],\"containers\":[{\"name\":"
	  "\"game\"}]},\"status\":{\"phase\":\"Failed\",\"initContainerStatuses\":[{\"name\":"
	  "\"i1\",\"state\":{\"terminated\":{\"exitCode\":143,\"signal\":15}}}]}}",
	  "Init:Signal:15", 0, 1, 0 },
	{ "init done: the containers decide",
	  "{" META ",\"spec\":{\"initContainers\":[{\"name\":\"i1\"}],\"containers\":[{\"name\":"
	  "\"game\"}]},\"status\":{\"phase\":\"Running\",\"initContainerStatuses\":[{\"name\":"
	  "\"i1\",\"restartCount\":2,\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":"
	  "\"Completed\"}}}],\"containerStatuses\":[" RUNNING_C "]}}", "Running", 1, 1, 0 },
	{ "a started sidecar counts as a container, with its restarts",
	  "{" META ",\"spec\":{\"initContainers\":[{\"name\":\"side\",\"restartPolicy\":"
	  "\"Always\"}],\"containers\":[{\"name\":\"game\"}]},\"status\":{\"phase\":\"Running\","
	  "\"initContainerStatuses\":[{\"name\":\"side\",\"ready\":true,\"started\":true,"
	  "\"restartCount\":2,\"state\":{\"running\":{}}}],\"containerStatuses\":[" RUNNING_C
	  "]}}", "Running", 2, 2, 2 },
	{ "a sidecar not yet started: Init:0/1",
	  "{" META ",\"spec\":{\"initContainers\":[{\"name\":\"side\",\"restartPolicy\":"
	  "\"Always\"}],\"containers\":[{\"name\":\"game\"}]},\"status\":{\"phase\":\"Pending\","
	  "\"initContainerStatuses\":[{\"name\":\"side\",\"started\":false,\"state\":{\"running\":"
	  "{}}}]}}", "Init:0/1", 0, 2, 0 },
	{ "initializing but Initialized: containers counted, the init reason stays",
	  "{" META ",\"spec\":{\"initContainers\":[{\"name\":\"i1\"}],\"containers\":[{\"name\":"
	  "\"game\"}]},\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Initialized\","
	  "\"status\":\"True\"}],\"initContainerStatuses\":[{\"name\":\"i1\",\"state\":{\"waiting\":"
	  "{\"reason\":\"CrashLoopBackOff\"}}}],\"containerStatuses\":[" RUNNING_C "]}}",
	  "Init:CrashLoopBackOff", 1, 1, 0 },
	{ "Terminating",
	  "{" META_DEL "," ONE ",\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
	  RUNNING_C "]}}", "Terminating", 1, 1, 0 },
	{ "deleted after it finished: not Terminating",
	  "{" META_DEL "," ONE ",\"status\":{\"phase\":\"Succeeded\",\"containerStatuses\":[{"
	  "\"name\":\"game\",\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}"
	  "]}}", "Completed", 0, 1, 0 },
	{ "node lost while deleted: Unknown",
	  "{" META_DEL "," ONE ",\"status\":{\"phase\":\"Running\",\"reason\":\"NodeLost\"}}",
	  "Unknown", 0, 1, 0 },
	{ "a very long reason is cut, not overflowed",
	  "{" META "," ONE ",\"status\":{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":"
	  "\"game\",\"state\":{\"waiting\":{\"reason\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}}}]}}",
	  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0, 1, 0 },
};

static void
test_status_table(void **state)
{
	struct k8s_pod_summary sum;
	struct k8s_pod *pod;
	char *cause = NULL;
	size_t i;
	int failed = 0;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if ((pod = k8s_pod_extract(cases[i].json, strlen(cases[i].json), NULL,
		    &cause)) == NULL)
			fail_msg("%s: %s", cases[i].name, cause);
		k8s_pod_summarize(pod, &sum);
		if (strcmp(sum.status, cases[i].status) != 0 || sum.ready != cases[i].ready ||
		    sum.total != cases[i].total || sum.restarts != cases[i].restarts) {
			print_error("%s: %s %d/%d %d, want %s %d/%d %d\n", cases[i].name, sum.status,
			    sum.ready, sum.total, sum.restarts, cases[i].status, cases[i].ready,
			    cases[i].total, cases[i].restarts);
			failed++;
		}
		k8s_pod_free(pod);
	}
	assert_int_equal(failed, 0);
}

/* What the model keeps for the console besides the columns. */
static void
test_extract_times_and_inits(void **state)
{
	static const char json[] = "{\"metadata\":{\"name\":\"p\",\"creationTimestamp\":"
	    "\"2026-11-28T10:00:00Z\"},\"spec\":{\"nodeName\":\"gpu-1\",\"initContainers\":[{"
	    "\"restartPolicy\":\"Always\",\"name\":\"s\"},{\"name\":\"i\"}],\"containers\":[{\"name\":"
	    "\"a\"},{\"name\":\"b\"}]},\"status\":{\"phase\":\"Running\",\"startTime\":"
	    "\"2026-11-28T10:00:05Z\",\"conditions\":[{\"type\":\"Initialized\",\"status\":\"True\"},"
	    "{\"type\":\"Ready\",\"status\":\"False\"}],\"initContainerStatuses\":[{\"name\":\"i\","
	    "\"state\":{\"terminated\":{\"exitCode\":0,\"signal\":0}}},{\"name\":\"s\",\"started\":"
	    "true}]}}";
	struct k8s_pod *pod;
	char *cause = NULL;

	if ((pod = k8s_pod_extract(json, strlen(json), NULL, &cause)) == NULL)
		fail_msg("%s", cause);
	assert_string_equal(pod->created, "2026-11-28T10:00:00Z");
	assert_string_equal(pod->start_time, "2026-11-28T10:00:05Z");
	assert_string_equal(pod->node_name, "gpu-1");
	assert_string_equal(pod->initialized_status, "True");
	assert_string_equal(pod->ready_status, "False");
	assert_int_equal(pod->spec_containers, 2);
	assert_int_equal(pod->spec_init_containers, 2);
	assert_int_equal(pod->spec_sidecars, 1);
	assert_int_equal(pod->ninit_containers, 2);
	assert_string_equal(pod->init_containers[0].name, "i");
	assert_int_equal(pod->init_containers[0].restartable, 0);
	assert_int_equal(pod->init_containers[0].terminated, 1);
	assert_string_equal(pod->init_containers[1].name, "s");
	assert_int_equal(pod->init_containers[1].restartable, 1);
	assert_int_equal(pod->init_containers[1].started, 1);
	assert_int_equal(pod->ncontainers, 0);
	k8s_pod_free(pod);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_table),
		cmocka_unit_test(test_extract_times_and_inits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
