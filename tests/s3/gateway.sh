#!/bin/bash
# The gateway end to end with s3:// storage on a real S3 server
# (tests/env/s3.sh start) and a real Kafka broker (tests/env/kafka.sh
# start; KAFKA_BOOTSTRAP names it):
#  1. tasks whose program and result_prefix are s3:// end succeeded: the
#     log, result.json and video are in the bucket with their content
#     types and the checksums the result names; a task that arrives while
#     S3 is down waits (its download is retried) and succeeds once S3 is
#     back;
#  2. with a wrong secret a task with an s3:// program ends error/invalid
#     (the 403 of its download is not retried) and one with an s3://
#     result prefix ends error/infra (the 403 of its upload); S3 down for
#     longer than the retries: error/infra "gave up after 2 retries";
#     every task still has exactly one result (nothing lost);
#  3. the secret is in no log (debug level) and no result.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../kafka/lib.sh"
. "$(dirname "$0")/lib.sh"

"$S3ENV" status >/dev/null || bail "no S3 server at $S3_ENDPOINT (tests/env/s3.sh start)"
STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-s3-gw.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/gateway.log
trap '"$S3ENV" status >/dev/null 2>&1 || "$S3ENV" resume >/dev/null 2>&1; cleanup' EXIT
B=s3://$S3_BUCKET
PROG=$B/programs-$run/ai.sh
PREFIX=$B/results-$run

# gw_conf FILE SECRET [RETRIES]: the real-broker config of kafka/lib.sh,
# s3:// results, the given secret (through a file).
gw_conf() {
	kafka_conf "$1" "$STATE" s3gw 4 10
	s3_conf "$1.s3.conf" "${3:-20}"
	printf '%s\n' "$2" > "$1.s3.secret"
	sed "s|^s3_secret_key_file = .*|s3_secret_key_file = $1.s3.secret|" "$1.s3.conf" >> "$1"
	printf 'result_prefix = %s\n' "$PREFIX" >> "$1"
}
conf=$STATE/ok.conf
gw_conf "$conf" "$S3_SECRET_KEY"
ctl() { "$PAIACTL" -c "$conf" "$@"; }
gw_run() {
	echo "--- start $1 $(date +%T.%N)" >> "$GW_LOG"
	"$GATEWAY" -v -c "$1" 2>>"$GW_LOG" &
	GW_PID=$!
	wait_for 60 ctl status || bail "gateway did not start"
}
art() { jget "$1" "[a for a in r['artifacts'] if a['name'] == '$2'][0]['$3']"; }

ctl topics --create --partitions 3,3,1 >/dev/null || bail "cannot create topics at $KAFKA"
mkdir -p "$STATE/programs"
printf '#!/bin/sh\nwhile read l; do echo STAY; done\n' > "$STATE/programs/ai.sh"
out=$("$XFER" -c "$conf" put "$STATE/programs/ai.sh" "$PROG" text/x-shellscript 2>&1) ||
	bail "cannot upload the program: $out"
gw_run "$conf"

# --- 1. succeeded, results in the bucket ------------------------------------------
ctl submit --id ok-1 --program "$PROG" --params '{"frames":12,"video":true}' >/dev/null
r=$(result_of ok-1 "" 120) || bail "no result for ok-1"
check "an s3:// program and s3:// results: succeeded" test "$(jget "$r" 'r["status"]')" = succeeded
check "log_url is in the bucket below the prefix" \
	test "$(jget "$r" 'r["log_url"]')" = "$PREFIX/ok-1/1/log.txt"
check "so is video_url" test "$(jget "$r" 'r["video_url"]')" = "$PREFIX/ok-1/1/video.mp4"
K=results-$run/ok-1/1
check "log.txt is there as text/plain" test "$(s3_header "$K/log.txt" Content-Type)" = "text/plain; charset=utf-8"
check "result.json as application/json" test "$(s3_header "$K/result.json" Content-Type)" = application/json
check "video.mp4 as video/mp4" test "$(s3_header "$K/video.mp4" Content-Type)" = video/mp4
for a in log.txt video.mp4; do
	"$XFER" -c "$conf" get "$PREFIX/ok-1/1/$a" "$STATE/back-$a" >/dev/null
	check "$a in the bucket has the sha256 the result names" \
		test "$(sha "$STATE/back-$a")" = "$(art "$r" "$a" sha256)"
done
check "the game played the downloaded program (12 frames, no timeouts)" \
	test "$(jget "$r" 'str(r["game_result"]["frames"]) + "/" + str(r["game_result"]["timeouts"])')" = 12/0

# S3 down when a task arrives: its download waits, then it succeeds.
"$S3ENV" pause >/dev/null
ctl submit --id ok-2 --program "$PROG" --params '{"frames":5,"video":false}' >/dev/null
check "while S3 is down the program's download is retried" \
	wait_for 60 sh -c "grep -q 'msg=\"transfer failed, retrying\".*s3 GET s3://$S3_BUCKET/programs-$run/ai.sh' '$GW_LOG'"
"$S3ENV" resume >/dev/null || bail "S3 did not come back"
r=$(result_of ok-2 "" 120) || bail "no result for ok-2"
check "after S3 is back the task succeeds" test "$(jget "$r" 'r["status"]')" = succeeded
check "  and its log is in the bucket" test "$(s3_status "results-$run/ok-2/1/log.txt")" = 200
gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0

# --- 2. a wrong secret, S3 down for good: error, still reported --------------------
conf=$STATE/wrong.conf
gw_conf "$conf" "wrong-$S3_SECRET_KEY"
gw_run "$conf"
ctl submit --id bad-dl --program "$PROG" >/dev/null
ctl submit --id bad-up --program "file://$STATE/programs/ai.sh" --params '{"frames":3,"video":false}' >/dev/null
r=$(result_of bad-dl "" 120) || bail "no result for bad-dl"
check "wrong secret, s3:// program: status error, class invalid" \
	test "$(jget "$r" 'r["status"] + "/" + r["error"]["class"]')" = error/invalid
check "  the message names the request, bucket and key: 403 SignatureDoesNotMatch" \
	contains "$(jget "$r" 'r["error"]["message"]')" \
	"downloading the program: s3 GET $PROG: 403 SignatureDoesNotMatch: "
r=$(result_of bad-up "" 120) || bail "no result for bad-up"
check "wrong secret, s3:// results: status error, class infra" \
	test "$(jget "$r" 'r["status"] + "/" + r["error"]["class"]')" = error/infra
check "  the message names the upload: 403 SignatureDoesNotMatch" \
	contains "$(jget "$r" 'r["error"]["message"]')" \
	"uploading log.txt: s3 PUT $PREFIX/bad-up/1/log.txt: 403 SignatureDoesNotMatch: "
check "  a 403 is not retried" sh -c "! grep -q 'retrying.*bad-up/1/log.txt' '$GW_LOG'"
check "  nothing was stored" test "$(s3_status "results-$run/bad-up/1/log.txt")" = 404
gw_stop

conf=$STATE/down.conf
gw_conf "$conf" "$S3_SECRET_KEY" 2
gw_run "$conf"
"$S3ENV" pause >/dev/null
ctl submit --id down-1 --program "file://$STATE/programs/ai.sh" --params '{"frames":3,"video":false}' >/dev/null
r=$(result_of down-1 "" 120)
"$S3ENV" resume >/dev/null || bail "S3 did not come back"
[ -n "$r" ] || bail "no result for down-1"
check "S3 down for longer than the retries: status error, class infra" \
	test "$(jget "$r" 'r["status"] + "/" + r["error"]["class"]')" = error/infra
check "  the message says it gave up after 2 retries" \
	sh -c 'printf "%s" "$0" | grep -q "^uploading log.txt: s3 PUT .*/down-1/1/log.txt: .*(gave up after 2 retries)$"' \
	"$(jget "$r" 'r["error"]["message"]')"
gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0

# --- 3. nothing lost, no secret anywhere -----------------------------------------------
ctl results --raw > "$STATE/results.jsonl"
check "every task has exactly one result" python3 - "$STATE/results.jsonl" <<'PY'
import collections, json, sys
c = collections.Counter(json.loads(l)["task_id"] for l in open(sys.argv[1]))
want = {"ok-1", "ok-2", "bad-dl", "bad-up", "down-1"}
print("# results:", dict(c))
sys.exit(0 if set(c) == want and all(v == 1 for v in c.values()) else 1)
PY
check "the secret is in no gateway log line (debug level)" sh -c '! grep -q -F -e "$0" "$1"' "$S3_SECRET_KEY" "$GW_LOG"
check "nor an Authorization header" sh -c '! grep -q -i -e authorization -e "Signature=" "$0"' "$GW_LOG"
check "the secret is in no result" sh -c '! grep -q -F -e "$0" "$1"' "$S3_SECRET_KEY" "$STATE/results.jsonl"
check "--check-config shows s3_secret_key_file (a path)" sh -c \
	'"$0" -c "$1" --check-config 2>&1 | grep -q -x -F "s3_secret_key_file = $1.s3.secret"' "$GATEWAY" "$conf"
check "--check-config masks s3_secret_key" sh -c '
	out=$("$0" -c "$1" -o storage.s3_secret_key_file= -o "storage.s3_secret_key=$2" --check-config 2>&1)
	printf "%s\n" "$out" | grep -q "^s3_secret_key = \*\*\*\*\*\*\*\*$" &&
	! printf "%s" "$out" | grep -q -F "$2"' "$GATEWAY" "$conf" "$S3_SECRET_KEY"
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
