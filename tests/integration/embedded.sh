#!/bin/bash
# The whole pipeline on the embedded default: Kafka (mock cluster) ->
# download -> game -> upload -> transactional result, with bad input,
# failing, slow and cancelled programs, and SIGTERM mid-run.
. "$(dirname "$0")/lib.sh"

gw_start -o gateway.max_inflight=8 -o gateway.grace_s=60 -o runner.kill_grace_s=2
cp "$SRCDIR/demo/sample-ai.py" "$STATE/programs/sample-ai.py"
SAMPLE=file://$STATE/programs/sample-ai.py
FAST='{"frames":3,"video":false}'

# --- 200 tasks, 8 in flight, 20 malformed mixed in ------------------
ctl submit --program "$SAMPLE" --params "$FAST" --id ok --count 100 >/dev/null ||
	bail "submit failed"
declare -a bad=(
	'not json'
	'[1,2,3]'
	'"a string"'
	'{"version":2,"task_id":"v2","game":"catch","program":"file:///x"}'
	'{"task_id":"nover","game":"catch","program":"file:///x"}'
	'{"version":1,"game":"catch","program":"file:///x"}'
	'{"version":1,"task_id":"noprog","game":"catch"}'
	'{"version":1,"task_id":"wt","game":"catch","program":"file:///x","timeout_s":"10"}'
	'{"version":1,"task_id":"wp","game":"catch","program":"file:///x","params":[1]}'
	'{"version":"1","task_id":"wv","game":"catch","program":"file:///x"}'
	'{"version":1,"task_id":"../etc","game":"catch","program":"file:///x"}'
	'{"version":1,"task_id":"ftp","game":"catch","program":"ftp://h/x"}'
	'{"version":1,"task_id":"esc","game":"catch","program":"file:///x","entry":"../../etc/passwd"}'
	'{"version":1,"task_id":"t0","game":"catch","program":"file:///x","timeout_s":0}'
	$'\xff\xfe{}'
	'{"version":1,"task_id":"tr","game":"catch","program":"file:///x"} junk'
	''
	'{"version":1,"task_id":"eg","game":"","program":"file:///x"}'
	'{"version":1,"task_id":"gpu","game":"catch","program":"file:///x","resources":{"gpu":-1}}'
)
expect_reasons="invalid_json not_object not_object unsupported_version missing_field
missing_field missing_field wrong_type wrong_type wrong_type invalid_value invalid_value
invalid_value invalid_value invalid_utf8 invalid_json invalid_json invalid_value
invalid_value too_large"
for b in "${bad[@]}"; do
	ctl submit --raw "$b" >/dev/null || bail "raw submit failed"
done
big=$STATE/big.json
python3 -c 'import sys; sys.stdout.write("{\"version\":1,\"pad\":\"" + "x" * (1024 * 1024 + 10) + "\"}")' > "$big"
ctl submit --raw-file "$big" >/dev/null || bail "raw-file submit failed"
ctl submit --program "$SAMPLE" --params "$FAST" --id ok2 --count 100 >/dev/null ||
	bail "submit failed"

ctl results --raw --follow --count 200 --timeout 240 > "$STATE/results.json"
check "200 results arrive" test "$(wc -l < "$STATE/results.json")" -ge 200
ctl results --raw > "$STATE/results-all.json"
check "each of the 200 tasks has exactly one result, all succeeded" python3 - "$STATE/results-all.json" <<'PY'
import json, sys, collections
ids = collections.Counter()
bad = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    ids[r["task_id"]] += 1
    if r["status"] != "succeeded":
        bad.append((r["task_id"], r["status"], r.get("error")))
want = {f"ok-{i}" for i in range(1, 101)} | {f"ok2-{i}" for i in range(1, 101)}
missing = want - set(ids)
dups = [k for k, v in ids.items() if v != 1]
extra = set(ids) - want
print(f"# results={sum(ids.values())} missing={len(missing)} duplicated={len(dups)} extra={len(extra)} not_succeeded={len(bad)}")
sys.exit(0 if not missing and not dups and not extra and not bad else 1)
PY
check "results carry log and result URLs with sha256, files exist" python3 - "$STATE/results-all.json" <<'PY'
import json, sys, hashlib
n = 0
for line in open(sys.argv[1]):
    n += 1
    r = json.loads(line)
    for a in r["artifacts"]:
        p = a["url"][len("file://"):]
        if hashlib.sha256(open(p, "rb").read()).hexdigest() != a["sha256"]:
            print("# sha256 mismatch", p); sys.exit(1)
    if not r["log_url"] or not r["result_url"] or r["game_result"] is None:
        print("# missing fields", r["task_id"]); sys.exit(1)
sys.exit(0 if n >= 200 else 1)
PY

ctl results --dlq --raw --follow --count 20 --timeout 60 > "$STATE/dlq.json"
check "20 malformed tasks give 20 DLQ records with the right reasons" python3 - "$STATE/dlq.json" "$expect_reasons" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
got = sorted(r["reason"] for r in recs)
want = sorted(sys.argv[2].split())
print(f"# dlq records={len(recs)}")
if got != want:
    print("# got ", got); print("# want", want); sys.exit(1)
for r in recs:
    if not r["detail"] or r["topic"] != "paia.tasks" or "offset" not in r or "original" not in r:
        print("# incomplete record", r); sys.exit(1)
PY
check "DLQ keeps the original bytes (base64 for invalid UTF-8)" python3 - "$STATE/dlq.json" <<'PY'
import json, sys, base64
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["reason"] == "invalid_utf8":
        sys.exit(0 if base64.b64decode(r["original"]) == b"\xff\xfe{}" and r["original_encoding"] == "base64" else 1)
sys.exit(1)
PY

# --- a program that fails --------------------------------------------
FAIL=$(program fail.sh 'echo "user program about to fail" >&2; exit 3')
ctl submit --id fail-1 --program "$FAIL" --params '{"frames":5,"video":false}' >/dev/null
r=$(result_of fail-1) || bail "no result for fail-1"
check "non-zero exit gives status failed, class user" \
	test "$(jget "$r" 'r["status"] + "/" + r["error"]["class"]')" = "failed/user"
log=$(jget "$r" 'r["log_url"]')
check "failed task's log is uploaded and has the program's stderr" \
	grep -q "user program about to fail" "${log#file://}"

# --- requeue: a new attempt of a finished task ------------------------
check "requeue of a finished task is accepted" ctl requeue fail-1
r=$(result_of fail-1 2) || r='{}'
check "requeued task reports attempt 2" test "$(jget "$r" 'r.get("attempt")')" = 2

# --- timeout: the whole process group goes ---------------------------
HANG=$(program hang.sh 'sleep 300')
ctl submit --id slow-1 --program "$HANG" --timeout 2 \
	--params '{"frames":100,"frame_timeout_ms":5000,"video":false}' >/dev/null
wait_for 30 sh -c "[ \"\$($PAIACTL -d $STATE task slow-1 --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get(\"state\"))')\" = running ]"
pgid=$(task_field slow-1 pid)
r=$(result_of slow-1) || bail "no result for slow-1"
check "task past its timeout gives status timeout" test "$(jget "$r" 'r["status"]')" = timeout
check "its process group is gone (pgid $pgid)" group_gone "$pgid"

# --- cancel mid-run ----------------------------------------------------
ctl submit --id cancel-1 --program "$HANG" --timeout 120 \
	--params '{"frames":100,"frame_timeout_ms":5000,"video":false}' >/dev/null
wait_for 30 sh -c "[ \"\$($PAIACTL -d $STATE task cancel-1 --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get(\"state\"))')\" = running ]"
pgid=$(task_field cancel-1 pid)

# --- duplicate task id while the first is in flight ---------------------
ctl submit --id cancel-1 --program "$HANG" >/dev/null
ctl results --dlq --raw --follow --count 21 --timeout 30 > "$STATE/dlq2.json"
check "a duplicate task id in flight is dead-lettered" \
	grep -q '"reason":"duplicate_task".*"task_id":"cancel-1"' "$STATE/dlq2.json"

check "cancel is accepted" ctl cancel cancel-1
r=$(result_of cancel-1) || bail "no result for cancel-1"
check "cancelled task gives status cancelled" test "$(jget "$r" 'r["status"]')" = cancelled
check "cancelled task's process group is gone" group_gone "$pgid"
out=$(ctl cancel no-such-task 2>&1); rc=$?
check "cancel of an unknown task fails naming it" fails_with $rc "$out" "no task no-such-task"

# --- SIGTERM mid-run: in-flight tasks finish and are committed ------------
SLOWAI=$(program slow-ai.sh 'while read l; do sleep 0.2; echo STAY; done')
ctl submit --id term --count 4 --program "$SLOWAI" --params '{"frames":10,"video":false}' >/dev/null
wait_for 60 sh -c "[ \"\$($PAIACTL -d $STATE tasks --state running --json 2>/dev/null | python3 -c 'import json,sys; v=json.load(sys.stdin); v=v.get(\"tasks\",v); print(len([t for t in v if t[\"task_id\"].startswith(\"term-\")]))')\" = 4 ]" ||
	diag "not all 4 term tasks were running at once"
gw_stop
check "gateway exits 0 after SIGTERM (rc=$GW_RC)" test "$GW_RC" -eq 0
check "the 4 in-flight tasks were reported before exit" python3 - "$GW_LOG" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
stop = next(i for i, l in enumerate(lines) if 'msg="stopping"' in l)
rep = [l for l in lines[:stop] if 'msg="task reported"' in l and "task=term-" in l]
print(f"# term tasks reported before stop: {len(rep)}")
sys.exit(0 if len(rep) == 4 else 1)
PY
check "no game process outlives the gateway" no_procs_under "$STATE/tasks"
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
