# lib.sh: shared pieces of the real-broker tests (sourced after
# ../integration/lib.sh). KAFKA_BOOTSTRAP names the broker
# (tests/env/kafka.sh start: 127.0.0.1:19092).

KAFKA=${KAFKA_BOOTSTRAP:-127.0.0.1:19092}

# kafka_env_same: the broker tests/env/kafka.sh would restart, freeze or
# stop (KAFKA_PORT) is the one under test (KAFKA_BOOTSTRAP); else a test
# would restart another broker on the default port and take it over.
kafka_env_same() {
	[ "${KAFKA##*:}" = "${KAFKA_PORT:-19092}" ] || {
		echo "Bail out! KAFKA_BOOTSTRAP is $KAFKA but tests/env/kafka.sh acts on port" \
			"${KAFKA_PORT:-19092}: set KAFKA_PORT (and KAFKA_DIR) to the broker's"
		exit 1
	}
}
run=$(date +%s)-$$

# kafka_conf FILE STATE_DIR NAME MAX_INFLIGHT GRACE_S: a gateway config on
# this run's own topics and group (NAME-<run>), files below $STATE.
kafka_conf() {
	mkdir -p "$2"
	cat > "$1" <<CONF
[gateway]
state_dir = $2
instance_id = $3-1
tasks_topic = $3-$run.tasks
results_topic = $3-$run.results
dlq_topic = $3-$run.dlq
max_inflight = $4
batch_ms = 50
grace_s = $5
[kafka]
bootstrap.servers = $KAFKA
group.id = $3-$run
session.timeout.ms = 6000
[storage]
file_root = $STATE
result_prefix = file://$STATE/results
[runner]
command = $BUILDDIR/demo/paia-demo-game
kill_grace_s = 1
CONF
}

# distinct: task ids with a result; at_least N: that many or more.
distinct() { ctl results --raw 2>/dev/null | python3 -c 'import json,sys; print(len({json.loads(l)["task_id"] for l in sys.stdin}))'; }
at_least() { [ "$(distinct)" -ge "$1" ]; }
# exactly_once PREFIX COUNT: tasks PREFIX-1..COUNT have one result each, succeeded.
exactly_once() {
	ctl results --raw | python3 -c '
import json, sys, collections
prefix, n = sys.argv[1], int(sys.argv[2])
rs = [r for r in map(json.loads, sys.stdin) if r["task_id"].startswith(prefix + "-")]
c = collections.Counter(r["task_id"] for r in rs)
bad = [r["task_id"] for r in rs if r["status"] != "succeeded"]
want = {f"{prefix}-{i}" for i in range(1, n + 1)}
lost, dup = want - set(c), [k for k, v in c.items() if v > 1]
print(f"# {prefix}: results={sum(c.values())} lost={len(lost)} duplicated={len(dup)} not_succeeded={len(bad)}")
for r in rs:
    if r["status"] != "succeeded":
        print("#   %s: %s %s" % (r["task_id"], r["status"], r["error"]))
sys.exit(0 if not lost and not dup and not bad else 1)' "$1" "$2"
}


# free_port: a TCP port on 127.0.0.1 nobody listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
