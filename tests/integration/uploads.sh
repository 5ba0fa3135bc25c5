#!/bin/bash
# Uploads wait for storage instead of giving up (gateway/uploads.c): the
# file:// results folder is replaced by a file (every upload fails "Not
# a directory", as when a mounted storage is away) while 12 tasks run.
#  - their games run and end; their uploads wait in state upload_wait,
#    holding no game slot (inflight 0, the next tasks start), no
#    descriptor, the reason and the deadline in the TASK view;
#  - while storage is away one task at a time tries it (a probe), not
#    all of them;
#  - storage back: every task succeeds, its outputs uploaded, none run
#    again; the log says storage answered again.
#  - storage.max_waiting_uploads: intake pauses when that many wait.
. "$(dirname "$0")/lib.sh"

N=12
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
gw_start -o gateway.max_inflight=4 -o gateway.prefetch=2 -o storage.retries=1 \
	-o storage.backoff_ms=100 -o storage.backoff_max_ms=400 \
	-o storage.max_waiting_uploads=$N -o health.listen=127.0.0.1:$PORT
cp "$SRCDIR/demo/sample-ai.py" "$STATE/programs/sample-ai.py"
P=file://$STATE/programs/sample-ai.py

# The outage: the results folder becomes a file.
mkdir -p "$STATE/results"
mv "$STATE/results" "$STATE/results.away"
: > "$STATE/results"
ctl submit --id up --count $N --program "$P" --params '{"frames":2,"video":false}' >/dev/null
status_field() { ctl status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
all_waiting() { [ "$(status_field 's["upload_waiting"]')" = "$N" ]; }
check "all $N tasks end their games and wait for storage (upload_waiting)" wait_for 120 all_waiting
# Only max_inflight (4) games run at once: all 12 got to run because the
# waiting ones hold no slot. What holds one now is a probe at most.
check "waiting tasks hold no game slot (inflight: a probe at most)" \
	test "$(status_field 's["inflight"] <= 1 and s["backlog"] == 0')" = True
in_state() { [ "$(ctl tasks --state upload_wait --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tasks"]))')" = "$N" ]; }
check "their state is upload_wait" wait_for 30 in_state
# A waiting task's view (not the one being probed now: it is uploading, not waiting).
waiting_view() {
	local i
	for i in $(seq 1 $N); do
		t=$(ctl task up-$i --json)
		case "$t" in *'"state":"upload_wait"'*) return 0;; esac
	done
	return 1
}
waiting_view || t=$(ctl task up-2 --json)
check "the TASK view says why it waits" \
	sh -c 'printf "%s" "$0" | grep -q "\"upload_error\":\"file://.*Not a directory"' "$t"
check "...since when, and its deadline (storage.upload_deadline_s after the game ended)" \
	test "$(jget "$t" '"upload_waiting_since" in r and "upload_deadline" in r')" = True
check "no result was reported meanwhile" test "$(ctl results --raw | wc -l)" -eq 0
# (Between probes: while one is uploading, one fewer waits.)
paused() { [ "$(status_field 's["paused"] and s["upload_waiting"] == '$N)" = True ]; }
check "intake paused at storage.max_waiting_uploads ($N)" wait_for 30 paused
metrics_ok() {
	curl -s "http://127.0.0.1:$PORT/metrics" > "$STATE/metrics"
	grep -q "^paia_storage_destinations_down 1$" "$STATE/metrics" &&
		grep -q "^paia_tasks{state=\"upload_wait\"} $N$" "$STATE/metrics"
}
check "/metrics: one storage destination down, $N tasks in upload_wait" wait_for 30 metrics_ok
# One probe at a time: only the tasks that were uploading when storage
# went away (max_inflight of them at most) tried it; the rest waited
# without trying, and the oldest probes for all.
probes() { [ "$(grep -c 'storage still away: trying one waiting upload' "$GW_LOG")" -ge 3 ]; }
check "waiting uploads probe storage again and again" wait_for 30 probes
tried=$(grep 'transfer failed' "$GW_LOG" | grep -o 'results/up-[0-9]*/' | sort -u | wc -l)
check "only the tasks uploading when it went away tried storage ($tried of $N; max_inflight 4)" \
	test "$tried" -le 4
check "each probe names one task with all $N waiting" \
	grep -q "storage still away: trying one waiting upload.* waiting=$N " "$GW_LOG"

# Storage back.
rm -f "$STATE/results"
mv "$STATE/results.away" "$STATE/results"
ctl results --follow --count $N --timeout 120 >/dev/null || diag "not all $N results came"
verdict=$(ctl results --raw | python3 -c '
import json, sys, collections
rs = [json.loads(l) for l in sys.stdin]
c = collections.Counter(r["task_id"] for r in rs)
st = collections.Counter(r["status"] for r in rs)
logs = sum(1 for r in rs if r.get("log_url"))
print(len(c), max(c.values() or [0]), st.get("succeeded", 0), logs)')
check "...all $N, once each, all succeeded, each with its log ($verdict)" test "$verdict" = "$N 1 $N $N"
check "...each log in the results folder" \
	test "$(find "$STATE/results" -name log.txt | wc -l)" -eq "$N"
check "...each game ran once (attempt 1)" \
	test "$(ctl results --raw | python3 -c 'import json,sys; print(sorted({json.loads(l)["attempt"] for l in sys.stdin}))')" = "[1]"
check "the log says storage answered again" grep -q 'storage answers again: waiting uploads resume' "$GW_LOG"
check "nothing waits any more" test "$(status_field 's["upload_waiting"]')" = 0
gw_stop
check "gateway exits 0 (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
