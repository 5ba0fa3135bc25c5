#!/bin/bash
# Consumer health and lag on a real broker (tests/env/kafka.sh start):
#  1. steady load: /healthz answers 200 at every probe while tasks run,
#     and /metrics counts them;
#  2. scaling 1 -> 3 -> 1 instances under load: no instance ever calls a
#     partition unhealthy, and every task has exactly one result;
#  3. an idle partition after a transaction wrote to the tasks topic (a
#     requeue: record plus commit marker) shows lag 0, not 1;
#  4. a stalled runner: /healthz fails naming the partition and why, and
#     "paiactl lag" exits 3.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-health.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/a.log
PIDS=""

# instance NAME: config NAME.conf with its own state, instance id and
# health port (in $STATE/NAME.port); started with start NAME.
instance() {
	local port
	port=$(free_port)
	kafka_conf "$STATE/$1.conf" "$STATE/$1" health 4 20
	sed -i "s/^instance_id = .*/instance_id = health-$1/" "$STATE/$1.conf"
	cat >> "$STATE/$1.conf" <<CONF
[health]
listen = 127.0.0.1:$port
interval_ms = 1000
failures = 3
window = 5
CONF
	echo "$port" > "$STATE/$1.port"
}
start() {
	"$GATEWAY" -c "$STATE/$1.conf" 2>>"$STATE/$1.log" &
	echo $! > "$STATE/$1.pid"
	PIDS="$PIDS $!"
	wait_for 60 "$PAIACTL" -c "$STATE/$1.conf" status || bail "gateway $1 did not start"
}
stop() { kill -TERM "$(cat "$STATE/$1.pid")"; wait "$(cat "$STATE/$1.pid")"; }
ctl() { "$PAIACTL" -c "$STATE/a.conf" "$@"; }
healthz() { curl -s -o "$STATE/healthz.body" -w '%{http_code}' "http://127.0.0.1:$(cat "$STATE/$1.port")/healthz"; }

# probe NAME...: every 0.25 s, record each instance's /healthz answer
# ("code body") in $STATE/probes until $STATE/probing is removed.
probe() {
	touch "$STATE/probing"
	while [ -e "$STATE/probing" ]; do
		for n in "$@"; do
			[ -e "$STATE/$n.port" ] || continue
			printf '%s %s\n' "$n" "$(curl -s -w ' %{http_code}' \
			    "http://127.0.0.1:$(cat "$STATE/$n.port")/healthz" | tr '\n' '|')" >> "$STATE/probes"
		done
		sleep 0.25
	done
}
# false_failures: probes answered 503 for a partition (not "draining").
false_failures() { grep ' 503$' "$STATE/probes" | grep -c 'partition' ; }
answered() { grep -c ' 200$' "$STATE/probes"; }

cleanup_all() {
	rm -f "$STATE/probing"
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	cleanup
}
trap cleanup_all EXIT

instance a
ctl topics --create --partitions 6,3,1 >/dev/null || bail "cannot create topics at $KAFKA"
start a
mkdir -p "$STATE/programs"
P=$(program quick.sh 'while read l; do echo STAY; done')
FAST='{"frames":20,"video":false}'

# --- 1. steady load ------------------------------------------------------------
probe a &
PROBE=$!
ctl submit --id steady --count 100 --program "$P" --params "$FAST" >/dev/null
check "100 tasks have a result" wait_for 120 at_least 100
rm -f "$STATE/probing"; wait "$PROBE"
diag "probes: $(answered) answered 200, $(false_failures) unhealthy"
check "steady load stays healthy at every probe" test "$(false_failures)" -eq 0
check "the probes saw /healthz answer" test "$(answered)" -gt 0
metrics=$(curl -s "http://127.0.0.1:$(cat "$STATE/a.port")/metrics")
check "/metrics counts the results" contains "$metrics" 'paia_results_total{status="succeeded"} 100'
check "/metrics has lag per partition, labelled group, topic, partition" \
	sh -c 'printf "%s\n" "$1" | grep -Eq "^paia_consumer_lag\{group=\"[^\"]+\",topic=\"health-[^\"]*\",partition=\"[0-9]+\"\} [0-9]+$"' _ "$metrics"
check "/metrics has step durations" contains "$metrics" 'paia_step_duration_seconds_count{step="running"} 100'

# --- 2. scaling 1 -> 3 -> 1 under load -------------------------------------------
: > "$STATE/probes"
instance b
instance c
probe a b c &
PROBE=$!
ctl submit --id scale --count 150 --program "$P" \
    --params '{"frames":20,"video":false}' >/dev/null
wait_for 60 at_least 110 || bail "no progress before scaling up"
start b
start c
wait_for 60 sh -c "grep -q 'partition assigned' '$STATE/b.log' && grep -q 'partition assigned' '$STATE/c.log'" ||
	diag "b or c got no partition"
stop b
stop c
check "150 tasks have a result across 1 -> 3 -> 1 instances" wait_for 240 at_least 250
rm -f "$STATE/probing"; wait "$PROBE"
diag "probes: $(answered) answered 200, $(false_failures) unhealthy"
grep ' 503$' "$STATE/probes" | grep partition | head -3 | sed 's/^/# /'
check "no false failure while scaling 1 -> 3 -> 1" test "$(false_failures)" -eq 0
check "exactly once across the rebalances" exactly_once scale 150
check "b committed its done tasks before handing over" \
    sh -c "! grep -q 'transactions still open after the timeout' '$STATE/b.log' '$STATE/c.log'"

# --- 3. an idle partition after a transaction shows lag 0 -------------------------
ctl requeue steady-1 >/dev/null || bail "requeue failed"
check "the requeued attempt has its result" result_of steady-1 2 60
lag_zero() {
	ctl lag --json | python3 -c '
import json, sys
ps = json.load(sys.stdin)["partitions"]
sys.exit(0 if ps and all(p["lag"] == 0 and p["log_end"] >= 0 for p in ps) else 1)'
}
check "every partition shows lag 0 once idle, commit markers included" wait_for 30 lag_zero
ctl lag | sed 's/^/# /'

# --- 4. a stalled runner ------------------------------------------------------------
H=$(program hang.sh 'sleep 600')
ctl submit --id stall --count 12 --program "$H" --timeout 600 >/dev/null
check "/healthz fails when the runner stalls" wait_for 30 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$(cat "$STATE/a.port")/healthz)\" = 503 ]"
body=$(curl -s "http://127.0.0.1:$(cat "$STATE/a.port")/healthz")
diag "$body"
check "it names the partition and why" contains "$body" "behind the log end"
check "it names a partition" contains "$body" "partition "
ctl lag >/dev/null; rc=$?
check "paiactl lag exits 3 when unhealthy (rc=$rc)" test "$rc" -eq 3
[ "$tap_failed" -eq 0 ] || { for n in a b c; do GW_LOG=$STATE/$n.log; gw_dump_log; done; }
tap_done
