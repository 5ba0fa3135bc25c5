#!/bin/bash
# Exactly once on a real Kafka broker (tests/env/kafka.sh start): the
# gateway is killed with -9 twice while tasks run and finish out of
# order, and restarted each time with the same transactional id. A
# read_committed reader must then find exactly one result per task and
# exactly one dead letter per malformed task: the offsets committed in
# the results' transactions (with the done set in their metadata) are
# what the restarted gateway resumes from.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

N=${EOS_TASKS:-80}
STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-eos.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/gateway.log
conf=$STATE/gateway.conf
kafka_conf "$conf" "$STATE" eos 6 10
ctl() { "$PAIACTL" -c "$conf" "$@"; }
start() {
	echo "--- start $(date +%T.%N)" >> "$GW_LOG"
	"$GATEWAY" -c "$conf" 2>>"$GW_LOG" &
	GW_PID=$!
	wait_for 60 ctl status || bail "gateway did not start"
}

ctl topics --create --partitions 6,3,1 >/dev/null || bail "cannot create topics at $KAFKA"
start
mkdir -p "$STATE/programs"
# Games of varying length, so tasks finish out of order.
P=$(program slow.sh 'while read l; do sleep 0.$(( $$ % 3 + 1 )); echo STAY; done')
ctl submit --id eos --count "$N" --program "$P" --params '{"frames":3,"video":false}' >/dev/null ||
	bail "submit failed"
for b in 'not json' '{"version":7}' '{"version":1,"task_id":"x"}' '[]' '{"version":1,"task_id":"../x","game":"g","program":"file:///x"}'; do
	ctl submit --raw "$b" >/dev/null
done

for stop_at in $((N / 4)) $((N / 2)); do
	wait_for 120 at_least "$stop_at" || bail "fewer than $stop_at results"
	kill -KILL "$GW_PID"; wait "$GW_PID" 2>/dev/null
	diag "killed -9 with $(distinct) of $N results committed"
	start
done
check "all $N tasks have a result after two kill -9 restarts" wait_for 240 at_least "$N"
ctl status --json > "$STATE/status.json"
gw_stop
check "the last gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0

ctl results --raw > "$STATE/results.jsonl"
check "exactly one committed result per task (read_committed)" python3 - "$STATE/results.jsonl" "$N" <<'PY'
import json, sys, collections
n = int(sys.argv[2])
rs = [json.loads(l) for l in open(sys.argv[1])]
c = collections.Counter(r["task_id"] for r in rs)
bad = [r["task_id"] for r in rs if r["status"] != "succeeded"]
want = {f"eos-{i}" for i in range(1, n + 1)}
lost, dup, extra = want - set(c), [k for k, v in c.items() if v > 1], set(c) - want
print(f"# results={sum(c.values())} tasks={len(c)} lost={len(lost)} duplicated={len(dup)} extra={len(extra)} not_succeeded={len(bad)}")
sys.exit(0 if not lost and not dup and not extra and not bad else 1)
PY
ctl results --dlq --raw > "$STATE/dlq.jsonl"
check "exactly one dead letter per malformed task" python3 - "$STATE/dlq.jsonl" <<'PY'
import json, sys, collections
c = collections.Counter((r["partition"], r["offset"]) for r in map(json.loads, open(sys.argv[1])))
print(f"# dead letters={sum(c.values())} distinct={len(c)}")
sys.exit(0 if len(c) == 5 and all(v == 1 for v in c.values()) else 1)
PY
starts=$(grep -c 'msg="game started"' "$GW_LOG")
diag "games started: $starts for $N tasks (a kill -9 reruns the games it interrupted)"
diag "offsets skipped as done before a kill (last life): $(python3 -c '
import json, sys
s = json.load(open(sys.argv[1])); s = s.get("status", s)
print(s["totals"]["skipped_done"])' "$STATE/status.json")"
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
