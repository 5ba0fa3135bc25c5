# lib.sh: shared pieces of the real-broker tests (sourced after
# ../integration/lib.sh). KAFKA_BOOTSTRAP names the broker
# (tests/env/kafka.sh start: 127.0.0.1:19092).

KAFKA=${KAFKA_BOOTSTRAP:-127.0.0.1:19092}
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
command = $BUILDDIR/gateway/paia-demo-game
kill_grace_s = 1
CONF
}
