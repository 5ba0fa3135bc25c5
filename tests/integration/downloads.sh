#!/bin/bash
# Downloads are bounded and say what stopped them (a hostile HTTP server,
# tests/integration/httpd.py, and a full disk):
#  - a trickle (2 KiB/s, above curl's low-speed limit) ends at the task's
#    timeout or storage.fetch_timeout_s, whichever is shorter;
#  - "paiactl cancel" aborts a download in flight, at once;
#  - a redirect loop is invalid and not retried; so is a 404;
#  - a download over storage.max_download_bytes leaves no file;
#  - (as root) a full disk: "No space left on device", class infra, not
#    retried, the partial file removed so the next task runs; an upload
#    to a full disk (file:// storage, which may free space) waits for
#    storage.upload_deadline_s, then says the same.
. "$(dirname "$0")/lib.sh"

HSTATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-httpd.XXXXXX")
STATES="$HSTATE"
python3 "$SRCDIR/tests/integration/httpd.py" "$HSTATE/port" 2>"$HSTATE/httpd.log" &
HTTPD_PID=$!
trap 'kill $HTTPD_PID 2>/dev/null; cleanup' EXIT
wait_for 10 test -s "$HSTATE/port" || bail "httpd did not start"
H=http://127.0.0.1:$(cat "$HSTATE/port")
hits() { curl -s "$H/hits" | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$1"; }
state_of() { task_field "$1" state 2>/dev/null; }

gw_start -o storage.max_download_bytes=1048576 -o storage.retries=3 -o storage.backoff_ms=50 \
	-o storage.backoff_max_ms=100 -o storage.fetch_timeout_s=6
FAST='{"frames":3,"video":false}'

# --- a trickle: the task's timeout (3 s) ends it -----------------------------------
t0=$(date +%s)
ctl submit --id slow --program "$H/trickle" --timeout 3 --params "$FAST" >/dev/null
r=$(result_of slow "" 90) || diag "no result for slow"
took=$(( $(date +%s) - t0 ))
check "a 2 KiB/s download ends at the task's timeout: error, class infra" \
	test "$(jget "$r" 'r["status"] + "/" + r["error"]["class"]')" = error/infra
check "  the error says which limit" contains "$r" "downloads get 3 s in all (the task's timeout)"
check "  it took about that long (${took} s)" test "$took" -lt 30
check "  and left no partial file" test ! -e "$STATE/tasks/slow/input/trickle"

# --- ... or storage.fetch_timeout_s (6 s) when the task's is longer ------------------
ctl submit --id slow2 --program "$H/trickle" --timeout 600 --params "$FAST" >/dev/null
r=$(result_of slow2 "" 90) || diag "no result for slow2"
check "storage.fetch_timeout_s bounds a task with a long timeout" \
	contains "$r" "downloads get 6 s in all (storage.fetch_timeout_s)"

# --- cancel aborts the download at once ---------------------------------------------
ctl submit --id cancelme --program "$H/trickle" --timeout 600 --params "$FAST" >/dev/null
wait_for 30 test -s "$STATE/tasks/cancelme/input/trickle" || diag "the download never began"
check "the task is fetching" test "$(state_of cancelme)" = fetching
t0=$(date +%s)
ctl cancel cancelme >/dev/null
r=$(result_of cancelme "" 30) || diag "no result for cancelme"
took=$(( $(date +%s) - t0 ))
check "cancel during a download: cancelled at once (${took} s)" \
	sh -c "[ '$(jget "$r" 'r["status"]')' = cancelled ] && [ $took -lt 5 ]"
check "  its partial file is gone" test ! -e "$STATE/tasks/cancelme/input/trickle"

# --- deterministic failures: invalid, not retried ----------------------------------
ctl submit --id loop --program "$H/loop" --params "$FAST" >/dev/null
r=$(result_of loop "" 60) || diag "no result for loop"
check "a redirect loop: error, class invalid" \
	test "$(jget "$r" 'r["status"] + "/" + r["error"]["class"]')" = error/invalid
check "  saying so" contains "$r" "redirects"
check "  asked once, not retried ($(hits /loop) requests: 1 + 5 redirects)" test "$(hits /loop)" -eq 6
ctl submit --id gone --program "$H/gone" --params "$FAST" >/dev/null
r=$(result_of gone "" 60) || diag "no result for gone"
check "a 404: error, class invalid, not retried ($(hits /gone) request)" \
	sh -c "[ '$(jget "$r" 'r["error"]["class"]')' = invalid ] && [ $(hits /gone) -eq 1 ]"

# --- too large: refused, nothing left ----------------------------------------------
ctl submit --id big --program "$H/big" --params "$FAST" >/dev/null
r=$(result_of big "" 60) || diag "no result for big"
check "a download over storage.max_download_bytes: error, class invalid" \
	sh -c "[ '$(jget "$r" 'r["error"]["class"]')' = invalid ] && echo '$r' | grep -q 'larger than storage.max_download_bytes (1048576)'"
check "  no partial file left in input/" test -z "$(ls -A "$STATE/tasks/big/input")"
ctl submit --id fine --program "$H/ok.py" --params "$FAST" >/dev/null
r=$(result_of fine "" 60) || diag "no result for fine"
check "an http:// program still runs" test "$(jget "$r" 'r["status"]')" = succeeded
gw_stop
check "gateway exits 0 (rc=$GW_RC)" test "$GW_RC" -eq 0

# --- a full disk (a small tmpfs as tasks/, in a mount namespace of its own) ----------
if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
	ok "# SKIP a full disk needs root and mount namespaces"
else
	STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-it.XXXXXX")
	STATES="$STATES $STATE"
	GW_LOG=$STATE/gateway.log
	mkdir -p "$STATE/tasks" "$STATE/small" "$STATE/programs"
	head -c 3000000 /dev/zero > "$STATE/programs/huge.py"
	unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs -o size=2m tmpfs "$1/tasks" &&
		mount -t tmpfs -o size=64k tmpfs "$1/small" && exec "$2" --embedded --state-dir "$1" \
		-o storage.retries=3 -o storage.backoff_ms=50 -o storage.upload_deadline_s=2' \
		sh "$STATE" "$GATEWAY" 2>"$GW_LOG" &
	GW_PID=$!
	wait_for 30 ctl status || bail "gateway in its mount namespace did not start"
	ctl submit --id full --program "file://$STATE/programs/huge.py" --params "$FAST" >/dev/null
	r=$(result_of full "" 60) || diag "no result for full"
	check "a download onto a full disk: No space left on device, class infra" \
		sh -c "[ '$(jget "$r" 'r["error"]["class"]')' = infra ] && echo '$r' | grep -q 'No space left on device'"
	check "  not retried" sh -c "! grep -q 'transfer failed, retrying' '$GW_LOG'"
	cp "$SRCDIR/demo/sample-ai.py" "$STATE/programs/sample-ai.py"
	ctl submit --id next --program "file://$STATE/programs/sample-ai.py" --params "$FAST" >/dev/null
	r=$(result_of next "" 60) || diag "no result for next"
	check "the partial file went: the next task succeeds" test "$(jget "$r" 'r["status"]')" = succeeded
	cat > "$STATE/programs/loud.py" <<'PY'
import sys
sys.stderr.write("x" * 200000 + "\n")
for line in sys.stdin:
    print("STAY", flush=True)
PY
	ctl submit --id fullup --program "file://$STATE/programs/loud.py" --params "$FAST" \
		--result-prefix "file://$STATE/small" >/dev/null
	r=$(result_of fullup "" 60) || diag "no result for fullup"
	check "an upload onto a full disk: No space left on device, class infra" \
		sh -c "[ '$(jget "$r" 'r["error"]["class"]')' = infra ] && echo '$r' | grep -q 'uploading log.txt: .*No space left on device'"
	gw_stop
fi
[ "$tap_failed" -eq 0 ] || { gw_dump_log; tail -5 "$HSTATE/httpd.log" | sed 's/^/# /'; }
tap_done
