/*
 * podstatus.c: a pod as "kubectl get pods" shows it: STATUS, READY and
 * RESTARTS, by the rules of kubectl's printPod (Kubernetes
 * pkg/printers/internalversion/printers.go), which k9s follows too:
 *
 *   1. the phase, or status.reason when the pod has one (Evicted,
 *      DeadlineExceeded, NodeLost, ...), or SchedulingGated when the
 *      PodScheduled condition says so;
 *   2. init containers in order: one that exited 0 or a started sidecar
 *      is passed; the first other one decides: Init:<terminated reason>,
 *      Init:Signal:N, Init:ExitCode:N, Init:<waiting reason> (but not
 *      PodInitializing), else Init:i/n;
 *   3. unless an init container decides (and the Initialized condition
 *      is not True), containers from the last to the first: a waiting
 *      reason (ContainerCreating, ErrImagePull, ImagePullBackOff,
 *      CrashLoopBackOff, ...), a terminated reason (Completed, Error,
 *      OOMKilled, ...), Signal:N or ExitCode:N; a ready running one is
 *      counted ready; Completed with one still running reads Running
 *      (Ready condition True) or NotReady;
 *   4. being deleted: Unknown when the node was lost, else Terminating
 *      unless the phase is already Succeeded or Failed.
 *
 * RESTARTS counts the containers' restarts (and the sidecars'; the
 * other init containers' only while initialising). Pure: no clock, no
 * I/O, so tests/unit/test-k8s-podstatus.c checks it as a table.
 */
#include "config.h"
#include "common.h"
#include "k8s.h"

#include <stdio.h>
#include <string.h>

static int
podstatus_empty(const char *s)
{
	return s == NULL || *s == '\0';
}

void
k8s_pod_summarize(const struct k8s_pod *pod, struct k8s_pod_summary *sum)
{
	const struct k8s_container_state *c;
	const char *phase = pod->phase != NULL ? pod->phase : "";
	int initializing = 0, has_running = 0, sidecar_restarts = 0, restarts = 0;
	size_t i;

	memset(sum, 0, sizeof *sum);
	snprintf(sum->status, sizeof sum->status, "%s",
	    !podstatus_empty(pod->reason) ? pod->reason : phase);
	if (pod->scheduled_reason != NULL && strcmp(pod->scheduled_reason, "SchedulingGated") == 0)
		snprintf(sum->status, sizeof sum->status, "SchedulingGated");
	sum->total = pod->spec_containers + pod->spec_sidecars;

	for (i = 0; i < pod->ninit_containers; i++) {
		c = &pod->init_containers[i];
		restarts += c->restart_count;
		if (c->restartable)
			sidecar_restarts += c->restart_count;
		if (c->terminated && c->exit_code == 0)
			continue;
		if (c->restartable && c->started) {
			if (c->ready)
				sum->ready++;
			continue;
		}
		if (c->terminated) {
			if (podstatus_empty(c->terminated_reason)) {
				if (c->signal != 0)
					snprintf(sum->status, sizeof sum->status, "Init:Signal:%d",
					    c->signal);
				else
					snprintf(sum->status, sizeof sum->status, "Init:ExitCode:%d",
					    c->exit_code);
			} else
				snprintf(sum->status, sizeof sum->status, "Init:%s",
				    c->terminated_reason);
		} else if (!podstatus_empty(c->waiting_reason) &&
		    strcmp(c->waiting_reason, "PodInitializing") != 0)
			snprintf(sum->status, sizeof sum->status, "Init:%s", c->waiting_reason);
		else
			snprintf(sum->status, sizeof sum->status, "Init:%zu/%d", i,
			    pod->spec_init_containers);
		initializing = 1;
		break;
	}

	if (!initializing || (pod->initialized_status != NULL &&
	    strcmp(pod->initialized_status, "True") == 0)) {
		restarts = sidecar_restarts;
		for (i = pod->ncontainers; i > 0; i--) {
			c = &pod->containers[i - 1];
			restarts += c->restart_count;
			if (!podstatus_empty(c->waiting_reason))
				snprintf(sum->status, sizeof sum->status, "%s", c->waiting_reason);
			else if (c->terminated && !podstatus_empty(c->terminated_reason))
				snprintf(sum->status, sizeof sum->status, "%s", c->terminated_reason);
			else if (c->terminated && c->signal != 0)
				snprintf(sum->status, sizeof sum->status, "Signal:%d", c->signal);
			else if (c->terminated)
				snprintf(sum->status, sizeof sum->status, "ExitCode:%d", c->exit_code);
			else if (c->ready && c->running) {
				has_running = 1;
				sum->ready++;
			}
		}
		if (strcmp(sum->status, "Completed") == 0 && has_running)
			snprintf(sum->status, sizeof sum->status, "%s", pod->ready_status != NULL &&
			    strcmp(pod->ready_status, "True") == 0 ? "Running" : "NotReady");
	}
	sum->restarts = restarts;

	if (pod->meta.deletion_timestamp != NULL && pod->reason != NULL &&
	    strcmp(pod->reason, "NodeLost") == 0)
		snprintf(sum->status, sizeof sum->status, "Unknown");
	else if (pod->meta.deletion_timestamp != NULL && strcmp(phase, "Succeeded") != 0 &&
	    strcmp(phase, "Failed") != 0)
		snprintf(sum->status, sizeof sum->status, "Terminating");
}
