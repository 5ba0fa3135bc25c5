#!/bin/bash
# Configuration errors name what is wrong; infrastructure failures are
# retried and then reported, never dropped: a game command that cannot
# start, uploads to a storage that refuses connections (they wait for it
# up to storage.upload_deadline_s, then the outputs are kept on disk and
# named), a program URL outside the storage root.
. "$(dirname "$0")/lib.sh"

# --- configuration ------------------------------------------------------
out=$("$GATEWAY" --embedded -o gateway.max_inflite=3 --check-config 2>&1); rc=$?
check "a misspelt key exits 2 naming it" fails_with $rc "$out" "unknown key gateway.max_inflite"
out=$("$GATEWAY" --embedded -o gateway.max_inflight=0 --check-config 2>&1); rc=$?
check "an out-of-range value names the key and bounds" fails_with $rc "$out" "gateway.max_inflight: \"0\" is not an integer between 1 and 10000"
out=$("$GATEWAY" --embedded -o kafka.bootstrp.servers=x --check-config 2>&1); rc=$?
check "a misspelt kafka key is named by librdkafka" fails_with $rc "$out" "kafka.bootstrp.servers"
cfg=$(mktemp); printf '[gateway]\nmax_inflight = 4\n[kafka]\nsasl.password = hunter2\n[runnr]\ncommand = x\n' > "$cfg"
out=$("$GATEWAY" -c "$cfg" -o kafka.bootstrap.servers=127.0.0.1:1 --check-config 2>&1); rc=$?
check "an unknown section in a file is named with the file and line" fails_with $rc "$out" "$cfg:5: unknown section [runnr]"
printf '[gateway]\nmax_inflight = 4\n[kafka]\nsasl.password = hunter2\n' > "$cfg"
out=$(PAIA_GATEWAY_BATCH_MS=50 "$GATEWAY" -c "$cfg" -o kafka.bootstrap.servers=127.0.0.1:1 --check-config 2>&1); rc=$?
check "--check-config prints the effective config (file and env)" sh -c "[ $rc -eq 0 ] && echo \"\$0\" | grep -q '^max_inflight = 4' && echo \"\$0\" | grep -q '^batch_ms = 50'" "$out"
check "--check-config masks secrets" sh -c "echo \"\$0\" | grep -q '^sasl.password = \*\*\*\*\*\*\*\*' && ! echo \"\$0\" | grep -q hunter2" "$out"
rm -f "$cfg"
out=$("$GATEWAY" --embedded -o storage.s3_access_key=AKIA -o storage.s3_secret_key_file=/nonexistent/s3-secret --check-config 2>&1); rc=$?
check "--check-config names an unreadable s3_secret_key_file" \
	fails_with $rc "$out" "storage.s3_secret_key_file: open /nonexistent/s3-secret: No such file or directory"
out=$(PAIA_STORAGE_S3_SECRET_KEY=hunter2 "$GATEWAY" --embedded --check-config 2>&1); rc=$?
check "half an S3 key pair exits 2, naming the keys and not the secret" \
	sh -c '[ "$0" -eq 2 ] && printf "%s" "$1" | grep -q "storage.s3_access_key and a secret key" &&
	       ! printf "%s" "$1" | grep -q hunter2' "$rc" "$out"
out=$("$GATEWAY" --bogus 2>&1); rc=$?
check "an unknown flag exits 2 with usage" fails_with $rc "$out" "usage:"

# --- a game command that cannot start: infra error, reported ----------------
# (One missing at start is refused then: tests/integration/sandbox.sh.)
GAMEDIR=$(mktemp -d "${TMPDIR:-/tmp}/paia-game.XXXXXX")
STATES="${STATES:-} $GAMEDIR"
chmod 755 "$GAMEDIR"
cp "$(type -P true)" "$GAMEDIR/paia-game"
gw_start -o runner.command="$GAMEDIR/paia-game" -o storage.retries=2 \
	-o storage.backoff_ms=50 -o storage.backoff_max_ms=100 -o storage.upload_deadline_s=3
rm -f "$GAMEDIR/paia-game"
P=$(program ok.sh 'exit 0')
ctl submit --id nogame --program "$P" >/dev/null
r=$(result_of nogame) || bail "no result for nogame"
check "a game command gone since start gives status error, class infra" \
	test "$(jget "$r" 'r["status"] + "/" + r["error"]["class"]')" = "error/infra"
check "the error names the command" contains "$r" "$GAMEDIR/paia-game"
check "the error says why exec failed (the child's errno)" contains "$r" "paia-game: No such file or directory"
check "an infra failure is retried as new attempts up to runner.max_attempts (3)" \
	test "$(jget "$r" 'r["attempt"]')" = 3
check "the error says which attempt gave up" contains "$r" "attempt 3, runner.max_attempts 3"

# --- uploads to a storage that refuses: retried, waiting, then kept -----------
ctl submit --id noup --program "$P" --result-prefix http://127.0.0.1:9/results >/dev/null
r=$(result_of noup) || bail "no result for noup"
check "failed upload gives status error, class infra" \
	test "$(jget "$r" 'r["status"] + "/" + r["error"]["class"]')" = "error/infra"
check "the error says why the last try failed, after its retries" contains "$r" "gave up after 2 retries"
check "the retries are logged" test "$(grep -c 'transfer failed, retrying' "$GW_LOG")" -ge 2
check "the upload waited for storage (state upload_wait, then tried again)" \
	sh -c "grep -q 'uploads wait for storage.*task=noup' '$GW_LOG' &&
	       grep -q 'storage still away: trying one waiting upload.*task=noup' '$GW_LOG'"
check "...for storage.upload_deadline_s, the error says" \
	contains "$r" "storage did not answer within storage.upload_deadline_s (3 s) after the game ended"
kept=$(jget "$r" 'r.get("kept") or ""')
check "the outputs are kept on disk, named in the result ($kept)" \
	sh -c '[ -n "$1" ] && [ -d "$1/output" ] && printf "%s" "$2" | grep -qF "kept in $1 on "' \
	sh "$kept" "$r"
check "...out of the task folders (kept/<task>.<attempt>)" \
	test "$kept" = "$STATE/kept/noup.$(jget "$r" 'r["attempt"]')"
t=$(ctl task noup --json)
check "the task's timeline shows upload_wait" \
	test "$(jget "$t" '"upload_wait" in r["timeline"]')" = True

# --- s3:// without S3 settings is refused, naming them ----------------------
ctl submit --id nos3 --program s3://paia-test/ai.py >/dev/null
r=$(result_of nos3) || bail "no result for nos3"
check "an s3:// program without storage.s3_*: error, class invalid, naming the keys" \
	test "$(jget "$r" 'r["status"] + "/" + r["error"]["class"] + "/" + r["error"]["message"]')" = \
	"error/invalid/program: s3:// URLs need storage.s3_endpoint or storage.s3_access_key"

# --- a program outside the storage root is refused --------------------------
ctl submit --id escape --program file:///etc/passwd >/dev/null
r=$(result_of escape) || bail "no result for escape"
check "a file:// program outside storage.file_root gives error, class invalid" \
	test "$(jget "$r" 'r["status"] + "/" + r["error"]["class"]')" = "error/invalid"
ctl submit --id missing --program "file://$STATE/programs/nope.py" >/dev/null
r=$(result_of missing) || bail "no result for missing"
check "a missing program gives error, class invalid, naming it" \
	test "$(jget "$r" 'r["status"] + "/" + r["error"]["class"] + "/" + str("nope.py" in r["error"]["message"])')" = error/invalid/True

# --- secrets in the gateway's environment do not reach user code -------------
gw_stop
PAIA_KAFKA_SASL_PASSWORD=hunter2 gw_start -o runner.command=/usr/bin/env
P=$(program ok.sh 'exit 0')
ctl submit --id env --program "$P" >/dev/null
r=$(result_of env) || bail "no result for env"
log=$(jget "$r" 'r["log_url"]')
check "the game's environment has the task variables" grep -q '^PAIA_TASK_ID=env$' "${log#file://}"
check "the gateway's secrets are not in it" sh -c "! grep -q hunter2 '${log#file://}'"
gw_stop
check "gateway exits 0 (rc=$GW_RC)" test "$GW_RC" -eq 0

# --- kill -9 mid-game, no sandbox: the next gateway stops what was left running --
# (Sandboxed games die with the gateway: tests/integration/sandbox.sh.) As
# root, runner.user must reach the task folders by their path.
STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-it.XXXXXX")
STATES="${STATES:-} $STATE"
chmod 711 "$STATE"
mkdir -m 711 "$STATE/tasks"
REUSE_STATE=1 gw_start -o runner.kill_grace_s=1 -o runner.sandbox=none
HANG=$(program hang.sh 'sleep 300')
ctl submit --id orphan --program "$HANG" --timeout 600 \
	--params '{"frames":100,"frame_timeout_ms":100000,"video":false}' >/dev/null
wait_for 30 sh -c "[ \"\$($PAIACTL -d $STATE task orphan --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get(\"state\"))')\" = running ]"
kill -KILL "$GW_PID"; wait "$GW_PID" 2>/dev/null
check "after kill -9 the user's program is still running (orphaned)" \
	some_procs_under "$STATE/tasks"
REUSE_STATE=1 gw_start -o runner.sandbox=none
check "a restarted gateway stops games its predecessor left running" \
	wait_for 10 no_procs_under "$STATE/tasks"
check "and says so in its log" grep -q "stopped a game left running by a previous gateway" "$GW_LOG"
gw_stop
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
