#!/bin/bash
# Nothing finished is lost when the gateway dies while storage is away
# (tests/env/kafka.sh start): 8 tasks run while the file:// results
# folder is replaced by a file; their games end and their uploads wait
# (upload_wait). The gateway is killed -9 then, and started again while
# storage is still away: it finds each finished game's outputs and
# outcome on disk (<task>/.outcome, its launch claim still its own) and
# waits to upload them instead of running the games again. Storage back:
# a read_committed reader finds one result per task, all succeeded,
# each saying it was recovered; every user program ran exactly once (it
# counts its launches in a file). A .outcome that is not the gateway's
# (forged, or another instance's) is not trusted: that game runs again.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

N=8
STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-recovery.XXXXXX")
STATES="$STATE"
# Games run without the sandbox here (as runner.user when root) so that
# the user program can count its launches in a file of the test's.
chmod 711 "$STATE"
mkdir -m 711 "$STATE/tasks"
GW_LOG=$STATE/gateway.log
conf=$STATE/gateway.conf
kafka_conf "$conf" "$STATE" rec 4 10
cat >> "$conf" <<CONF
sandbox = none
[storage]
retries = 1
backoff_ms = 100
backoff_max_ms = 500
CONF
ctl() { "$PAIACTL" -c "$conf" "$@"; }
start() {
	echo "--- start $(date +%T.%N)" >> "$GW_LOG"
	"$GATEWAY" -c "$conf" 2>>"$GW_LOG" &
	GW_PID=$!
	wait_for 60 ctl status || bail "gateway did not start"
}
status_field() { ctl status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
waiting() { [ "$(status_field 's["upload_waiting"]')" = "$1" ]; }
launches() { grep -c . "$STATE/launches"; }

ctl topics --create --partitions 3,3,1 >/dev/null || bail "cannot create topics at $KAFKA"
mkdir -p "$STATE/programs" "$STATE/results"
: > "$STATE/launches"
chmod 666 "$STATE/launches"
P=$(program counted.sh "echo \"\$PAIA_TASK_ID \$PAIA_ATTEMPT\" >> $STATE/launches
while read l; do echo STAY; done")
start
# Storage away: the results folder is a file.
mv "$STATE/results" "$STATE/results.away"
: > "$STATE/results"
ctl submit --id rec --count $N --program "$P" --params '{"frames":2,"video":false}' >/dev/null ||
	bail "submit failed"
check "all $N games end; their uploads wait for storage" wait_for 120 waiting $N
check "each game ran once ($(launches) launches)" test "$(launches)" -eq $N
check "each finished attempt's outcome is on disk (.outcome)" \
	test "$(ls "$STATE"/tasks/rec-*/.outcome | wc -l)" -eq $N
# A forged outcome is not trusted: rec-1's names another instance.
python3 - "$STATE/tasks/rec-1/.outcome" <<'PY'
import json, sys
o = json.load(open(sys.argv[1])); o["instance"] = "someone-else"
open(sys.argv[1], "w").write(json.dumps(o))
PY
kill -KILL "$GW_PID"; wait "$GW_PID" 2>/dev/null
diag "killed -9 with $N uploads waiting"
start
check "after the restart the finished games wait again, not run ($((N - 1)) recovered + rec-1 run again)" \
	wait_for 120 waiting $N
check "$((N - 1)) outputs found on disk, not run again" \
	test "$(grep -c 'finished game found on disk: uploading its outputs, not running it again' "$GW_LOG")" -eq $((N - 1))
check "the forged outcome was not used" \
	grep -q 'an earlier outcome does not apply to this delivery: the game runs.*task=rec-1 .*outcome_instance=\"\?someone-else\"\?' "$GW_LOG"
check "launches: $N + 1 (rec-1 as its next attempt) ($(launches))" test "$(launches)" -eq $((N + 1))
# Storage back.
rm -f "$STATE/results"
mv "$STATE/results.away" "$STATE/results"
check "all $N results after storage came back" wait_for 120 at_least $N
gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
ctl results --raw > "$STATE/results.jsonl"
check "one result per task, all succeeded, uploaded" python3 - "$STATE/results.jsonl" $N <<'PY'
import json, sys, collections
rs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
c = collections.Counter(r["task_id"] for r in rs)
ok = [r for r in rs if r["status"] == "succeeded" and r.get("log_url")]
print(f"# results={len(rs)} tasks={len(c)} succeeded_with_log={len(ok)}")
sys.exit(0 if len(rs) == n and len(c) == n and len(ok) == n else 1)
PY
check "the recovered ones say so, with attempt 1; rec-1 ran as attempt 2" python3 - "$STATE/results.jsonl" <<'PY'
import json, sys
rs = {r["task_id"]: r for r in map(json.loads, open(sys.argv[1]))}
want = "outputs of the finished game uploaded after a gateway restart"
bad = [t for t, r in rs.items() if t != "rec-1" and (r.get("recovered") != want or r["attempt"] != 1)]
r1 = rs["rec-1"]
print(f"# not marked recovered: {bad}; rec-1: attempt {r1['attempt']} recovered {r1.get('recovered')}")
sys.exit(0 if not bad and r1["attempt"] == 2 and "recovered" not in r1 else 1)
PY
check "no (task, attempt) launched twice" \
	test "$(sort "$STATE/launches" | uniq -d | wc -l)" -eq 0
check "the launch claims are gone (results committed)" \
	test "$(ls "$STATE/launched" | wc -l)" -eq 0
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
