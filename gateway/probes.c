/*
 * probes.c: the verdicts of /livez and /readyz, the Kubernetes probes,
 * apart from /healthz's verdict on progress (health.c, for alerts and
 * "paiactl lag").
 *
 * Live: the process is not wedged. The loop turns (its tick ran within
 * health.live_stall_s; the answer itself comes from the loop, so a loop
 * that is stuck does not answer at all), and neither worker thread (the
 * committer's transactions, health's ListOffsets) has been inside one
 * run without a step for that long: their blocking calls are bounded
 * and beat between tries, so a slow or absent broker is not a wedge.
 * A gateway whose every slot runs a long game, with a backlog, is live:
 * restarting it would lose those games and cure nothing.
 *
 * Ready: it can take work now. The broker answered lately
 * (health_reachable), the transactional producer is initialised, the
 * consumer has its assignment from the group's current generation
 * (possibly of no partition, when there are more gateways than
 * partitions), and it is not draining.
 *
 * The judgements are pure (probes_*_judge) over what probes_input_fill
 * gathers; the unit tests feed them directly. @locality loop
 */
#include "config.h"
#include "gateway.h"

#include <stdlib.h>

int
probes_live_judge(const struct probes_input *in, char **why)
{
	*why = NULL;
	if (in->loop_idle_ms > in->limit_ms)
		xasprintf(why, "the loop's tick has not run for %lld s",
		    (long long)(in->loop_idle_ms / 1000));
	else if (in->committer_stall_ms > in->limit_ms)
		xasprintf(why, "the committer thread has made no step for %lld s",
		    (long long)(in->committer_stall_ms / 1000));
	else if (in->health_stall_ms > in->limit_ms)
		xasprintf(why, "the lag thread has made no step for %lld s",
		    (long long)(in->health_stall_ms / 1000));
	return *why == NULL;
}

int
probes_ready_judge(const struct probes_input *in, char **why)
{
	*why = NULL;
	if (in->draining)
		*why = xstrdup("draining: intake stopped, in-flight tasks finishing");
	else if (!in->reachable)
		xasprintf(why, "Kafka: %s", in->unreachable_why != NULL ? in->unreachable_why :
		    "no answer from the broker");
	else if (!in->producer_ready)
		*why = xstrdup("the transactional producer is not initialised");
	else if (!in->assigned)
		*why = xstrdup("the consumer has no assignment from its group yet (joining or "
		    "rebalancing)");
	return *why == NULL;
}

void
probes_input_fill(struct gw *gw, struct probes_input *in)
{
	in->limit_ms = config_get_int(gw->conf, "health", "live_stall_s") * 1000;
	in->loop_idle_ms = gw->loop_beat_ms != 0 ? util_mono_ms() - gw->loop_beat_ms : 0;
	in->committer_stall_ms = gw->committer != NULL ? committer_stalled_ms(gw->committer) : 0;
	in->health_stall_ms = gw->health != NULL ? health_stalled_ms(gw->health) : 0;
	in->draining = gw->draining;
	free(in->unreachable_why);
	in->unreachable_why = NULL;
	in->reachable = gw->health != NULL && health_reachable(gw->health, &in->unreachable_why);
	in->producer_ready = gw->committer != NULL && committer_ready(gw->committer);
	in->assigned = gw->intake != NULL && intake_has_assignment(gw->intake);
}

int
probes_live(struct gw *gw, char **why)
{
	struct probes_input in = { 0 };
	int ok;

	probes_input_fill(gw, &in);
	ok = probes_live_judge(&in, why);
	free(in.unreachable_why);
	return ok;
}

int
probes_ready(struct gw *gw, char **why)
{
	struct probes_input in = { 0 };
	int ok;

	probes_input_fill(gw, &in);
	ok = probes_ready_judge(&in, why);
	free(in.unreachable_why);
	return ok;
}
