#!/bin/bash
# Task folders are bounded on disk by gateway.disk_budget_mb, not only by
# gateway.history: the folders of finished tasks go, oldest first, when
# they hold more; folders an earlier run left go first, at start too;
# the task stays known (its log from storage).
. "$(dirname "$0")/lib.sh"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-it.XXXXXX")
STATES="$STATE"
# What an earlier run left: three folders of about 1 MB, oldest first.
for i in 1 2 3; do
	mkdir -p "$STATE/tasks/old$i/output"
	head -c 1000000 /dev/urandom > "$STATE/tasks/old$i/output/video.mp4"
	touch -d "$((4 - i)) days ago" "$STATE/tasks/old$i"
done
REUSE_STATE=1 gw_start -o gateway.disk_budget_mb=2
gone() { [ ! -e "$STATE/tasks/$1" ]; }
check "at start, over the budget: the oldest folder of the earlier run went" gone old1
check "  the newer ones stay while they fit" sh -c "[ -d '$STATE/tasks/old2' ] && [ -d '$STATE/tasks/old3' ]"
check "  and it says so" grep -q 'task folder of an earlier run removed (gateway.disk_budget_mb).*folder=old1' "$GW_LOG"

cat > "$STATE/programs/video.py" <<'PY'
import sys
open("output/video.mp4", "wb").write(b"v" * 700000)
for line in sys.stdin:
    print("STAY", flush=True)
PY
for id in a b c d; do
	ctl submit --id "$id" --program "file://$STATE/programs/video.py" --params '{"frames":2,"video":false}' >/dev/null
	result_of "$id" "" 60 >/dev/null || diag "no result for $id"
done
# The results are committed before the folders are weighed: wait for d's.
wait_for 30 sh -c "[ \"\$($PAIACTL -d $STATE task d --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = done ]"
check "finished tasks' folders over the budget: the earlier run's went first" sh -c "! ls '$STATE/tasks' | grep -q old"
check "  then the oldest finished ones (a, b)" sh -c "[ ! -e '$STATE/tasks/a' ] && [ ! -e '$STATE/tasks/b' ]"
check "  the newest stay (c, d)" sh -c "[ -d '$STATE/tasks/c' ] && [ -d '$STATE/tasks/d' ]"
used=$(du -sk "$STATE/tasks" | cut -f1)
check "  tasks/ holds what the budget allows ($used KiB)" test "$used" -le 2048
check "a task without its folder is still known, its log read from storage" \
	sh -c "$PAIACTL -d $STATE logs a | grep -q 'start: task a'"
gw_stop
check "gateway exits 0 (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
