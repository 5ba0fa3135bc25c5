#!/bin/bash
# Backpressure without a pause, on a real broker (tests/env/kafka.sh
# start): one game at a time (max_inflight 1, prefetch 0) and six tasks
# in one partition, so the gateway is full from the first task on.
#
#  1. The first game outlasts max.poll.interval.ms (7 s) while the
#     other tasks wait in librdkafka's queue: the consumer queue is still
#     served, so the member never leaves the group (no "maximum poll
#     interval" error, one assignment, no revoke) and nothing runs twice.
#  2. When a slot frees, the next task comes from what librdkafka already
#     holds: with fetch.wait.max.ms at 10 s, a pause and resume (which
#     throws the prefetch away and waits for the fetch in flight at the
#     log end) would put ~10 s between a task's end and the next one's
#     receipt; held, it is the loop's own turn (under 4 s here even on a
#     loaded machine).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-held.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/gw.log
kafka_conf "$STATE/gw.conf" "$STATE/gw" held 1 20
cat >> "$STATE/gw.conf" <<CONF
sandbox = none
[gateway]
prefetch = 0
log_level = debug
[kafka]
max.poll.interval.ms = 7000
fetch.wait.max.ms = 10000
CONF
chmod 711 "$STATE"
mkdir -m 711 "$STATE/gw/tasks"
ctl() { "$PAIACTL" -c "$STATE/gw.conf" "$@"; }
ctl topics --create --partitions 1,1,1 >/dev/null || bail "cannot create topics at $KAFKA"
mkdir -p "$STATE/programs"
SLOW=$(program slow.sh 'while read l; do sleep 10; echo STAY; done')
FAST=$(program fast.sh 'while read l; do echo STAY; done')

"$GATEWAY" -c "$STATE/gw.conf" 2>>"$GW_LOG" &
GW_PID=$!
wait_for 60 ctl status || bail "the gateway did not start"
wait_for 60 grep -q 'partition assigned' "$GW_LOG" || bail "no partition assigned"
ctl submit --id held-1 --program "$SLOW" --params '{"frames":1,"frame_timeout_ms":60000,"video":false}' >/dev/null
ctl submit --id held-x --count 5 --program "$FAST" --params '{"frames":1,"video":false}' >/dev/null
check "every task has a result" wait_for 180 at_least 6
results() { ctl results --raw | python3 -c '
import json, sys, datetime
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
rs = sorted((json.loads(l) for l in sys.stdin), key=lambda r: t(r["timings"]["received"]))
for r in rs:
    print(r["task_id"], t(r["timings"]["received"]), t(r["timings"]["started"]), t(r["timings"]["finished"]))'; }
results > "$STATE/timings"
diag "$(cat "$STATE/timings")"
check "the slow game ran longer than max.poll.interval.ms" \
	awk '$1 == "held-1" { exit !($4 - $3 > 7) }' "$STATE/timings"
check "each next task is received within 4 s of the one before ending (no pause and refetch)" \
	awk 'NR > 1 && $2 - fin > 4 { bad = 1; print "# " $1 " received " $2 - fin " s after the previous end" }
	     { fin = $4 } END { exit bad || NR != 6 }' "$STATE/timings"
absent() { ! grep -qi "$1" "$2"; }
check "the member never left the group: no poll interval exceeded" \
	absent 'maximum poll interval' "$GW_LOG"
check "one assignment, no revoke" \
	test "$(grep -c 'partition assigned' "$GW_LOG")" -eq 1 -a "$(grep -c 'partition revoked' "$GW_LOG")" -eq 0
check "while full, intake held its messages rather than pausing" grep -q 'intake held' "$GW_LOG"
check "exactly once: one result per task" exactly_once held-x 5
gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
