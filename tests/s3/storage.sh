#!/bin/bash
# s3:// storage against a real S3 server that checks signatures
# (versitygw: tests/env/s3.sh start), through the gateway's own storage
# code (s3-xfer runs one transfer with a paia-gateway.conf):
#  1. a small PUT (signed payload hash) and GET round trip, content
#     types kept, odd keys, path-style and virtual-hosted addressing;
#  2. a missing object and a wrong secret: permanent failures naming the
#     request, bucket and key and the S3 error; no secret, no
#     Authorization header in any output;
#  3. a 200 MiB upload goes up in parts (the server's ETag ends in -13)
#     and comes back whole, max RSS under 64 MiB both ways; the download
#     size cap;
#  4. the server stopped in the middle of a multipart upload and of a
#     download: the transfer retries and finishes after the restart,
#     without sending finished parts again; stopped for good: it gives up
#     after its retries;
#  5. a file that shrinks during a multipart upload: a permanent failure,
#     and the upload is aborted on the server.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

"$S3ENV" status >/dev/null || bail "no S3 server at $S3_ENDPOINT (tests/env/s3.sh start)"
[ -x "$XFER" ] || bail "$XFER is not built"
W=$(mktemp -d "${TMPDIR:-/tmp}/paia-s3-storage.XXXXXX")
STATES=$W
conf=$W/s3.conf
s3_conf "$conf"
P=storage-$run
U=s3://$S3_BUCKET/$P
xfer() { "$XFER" -c "$conf" "$@"; }
# The server must be back whatever happens below.
trap '"$S3ENV" status >/dev/null 2>&1 || "$S3ENV" resume >/dev/null 2>&1; cleanup' EXIT

# --- 1. round trip ----------------------------------------------------------
head -c 300000 /dev/urandom > "$W/log.txt"
out=$(xfer put "$W/log.txt" "$U/small/log.txt" "text/plain; charset=utf-8" 2>&1)
check "a small upload succeeds ($out)" test "$(field "$out" result)" = ok
etag=$(s3_header "$P/small/log.txt" ETag)
check "it went up in one PUT (ETag $etag has no part count)" \
	sh -c 'case $0 in *-*) exit 1 ;; \"?*\") exit 0 ;; esac; exit 1' "$etag"
check "the content type is kept" test "$(s3_header "$P/small/log.txt" Content-Type)" = "text/plain; charset=utf-8"
out=$(xfer get "$U/small/log.txt" "$W/log.back" 2>&1)
check "it downloads ($out)" test "$(field "$out" result)" = ok
check "and matches (sha256)" test "$(sha "$W/log.txt")" = "$(sha "$W/log.back")"
printf '{"score": 42}\n' > "$W/result.json"
xfer put "$W/result.json" "$U/small/result.json" application/json >/dev/null
check "JSON goes up as application/json" test "$(s3_header "$P/small/result.json" Content-Type)" = application/json
odd="$P/odd key/ü+(1)~*&=.txt"
out=$(xfer put "$W/result.json" "s3://$S3_BUCKET/$odd" 2>&1)
check "a key with blanks, UTF-8 and reserved characters is signed right ($out)" test "$(field "$out" result)" = ok
out=$(xfer get "s3://$S3_BUCKET/$odd" "$W/odd.back" 2>&1)
check "and comes back" sh -c '[ "$0" = ok ] && cmp -s "$1" "$2"' "$(field "$out" result)" "$W/result.json" "$W/odd.back"

# Virtual-hosted addressing (bucket.localhost), a multipart upload included.
VH="-o storage.s3_endpoint=$S3_VHOST_ENDPOINT -o storage.s3_path_style=false"
head -c 12000000 /dev/urandom > "$W/vh.bin"
# shellcheck disable=SC2086
out=$(xfer $VH -o storage.multipart_threshold_mb=5 -o storage.multipart_part_mb=5 \
	put "$W/vh.bin" "$U/vh/video.mp4" video/mp4 2>&1)
check "virtual-hosted style ($S3_BUCKET.localhost): a 3-part upload ($out)" test "$(field "$out" result)" = ok
# shellcheck disable=SC2086
out=$(xfer $VH get "$U/vh/video.mp4" "$W/vh.back" 2>&1)
check "  and its download match" \
	sh -c '[ "$0" = ok ] && [ "$1" = "$2" ]' "$(field "$out" result)" "$(sha "$W/vh.bin")" "$(sha "$W/vh.back")"
etag=$(s3_header "$P/vh/video.mp4" ETag)
check "  the server made it of 3 parts (ETag $etag)" sh -c 'case $0 in *-3\") exit 0 ;; esac; exit 1' "$etag"

# --- 2. permanent failures ----------------------------------------------------
out=$(xfer get "$U/nope.txt" "$W/nope" 2>&1); rc=$?
check "a missing object: permanent (rc=$rc), naming bucket, key and S3 code" \
	fails_with $rc "$out" "error=\"s3 GET s3://$S3_BUCKET/$P/nope.txt: 404 NoSuchKey: "
wrong=$W/wrong.secret
printf 'x%s\n' "$S3_SECRET_KEY" > "$wrong"
out=$("$XFER" -v -c "$conf" -o "storage.s3_secret_key_file=$wrong" \
	put "$W/log.txt" "$U/denied/log.txt" text/plain 2>&1); rc=$?
diag "wrong secret: $(printf '%s\n' "$out" | grep '^result=')"
check "a wrong secret: permanent at once (rc=$rc, no retry)" \
	sh -c '[ "$0" -eq 1 ] && [ "$1" = 0 ]' "$rc" "$(field "$out" retries)"
check "the error names the request, bucket and key and says 403 SignatureDoesNotMatch" \
	contains "$out" "error=\"s3 PUT s3://$S3_BUCKET/$P/denied/log.txt: 403 SignatureDoesNotMatch: The request signature"
check "no secret in the output, debug log included" \
	sh -c '! printf "%s" "$0" | grep -q -F -e "$1" -e "x$1"' "$out" "$S3_SECRET_KEY"
check "no Authorization header or signature in it" \
	sh -c '! printf "%s" "$0" | grep -q -i -e authorization -e "Signature="' "$out"
check "nothing was stored" test "$(s3_status "$P/denied/log.txt")" = 404
out=$("$XFER" -c "$conf" -o storage.s3_access_key=nobody put "$W/log.txt" "$U/denied/log.txt" 2>&1); rc=$?
# (versitygw answers 404 XAdminUserNotFound where AWS says 403 InvalidAccessKeyId.)
check "an unknown access key: permanent (rc=$rc), naming the request" \
	fails_with $rc "$out" "error=\"s3 PUT s3://$S3_BUCKET/$P/denied/log.txt: 40"

# --- 3. multipart: 200 MiB, memory stays flat ----------------------------------
head -c $((200 * 1024 * 1024)) /dev/urandom > "$W/video.mp4"
out=$(xfer put "$W/video.mp4" "$U/big/video.mp4" video/mp4 2>&1)
diag "200 MiB upload: $out"
check "a 200 MiB upload succeeds" test "$(field "$out" result)" = ok
etag=$(s3_header "$P/big/video.mp4" ETag)
check "it is a multipart upload of 13 parts of 16 MiB (ETag $etag)" \
	sh -c 'case $0 in *-13\") exit 0 ;; esac; exit 1' "$etag"
check "the server answered 13 UploadPart requests and one Complete" \
	sh -c '[ "$0" -eq 13 ] && [ "$1" -eq 1 ]' "$(s3_requests "$P/big/video.mp4" '\| 200 \|.*\| partNumber=')" \
	"$(s3_requests "$P/big/video.mp4" '\| 200 \|.*\| POST \|.*\| uploadId=')"
rss=$(field "$out" maxrss_kb)
check "max RSS of the uploader stayed under 64 MiB ($rss KiB)" test "${rss:-999999}" -lt 65536
check "its content type is video/mp4" test "$(s3_header "$P/big/video.mp4" Content-Type)" = video/mp4
check "its size is right" test "$(s3_header "$P/big/video.mp4" Content-Length)" = $((200 * 1024 * 1024))
out=$(xfer get "$U/big/video.mp4" "$W/video.back" 2>&1)
diag "200 MiB download: $out"
check "it downloads whole (sha256)" \
	sh -c '[ "$0" = ok ] && [ "$1" = "$2" ]' "$(field "$out" result)" "$(sha "$W/video.mp4")" "$(sha "$W/video.back")"
rss=$(field "$out" maxrss_kb)
check "max RSS of the downloader stayed under 64 MiB ($rss KiB)" test "${rss:-999999}" -lt 65536
rm -f "$W/video.back"
out=$(xfer -o storage.max_download_bytes=1000000 get "$U/big/video.mp4" "$W/capped" 2>&1); rc=$?
check "a download over max_download_bytes: permanent, named (rc=$rc)" \
	fails_with $rc "$out" "s3 GET s3://$S3_BUCKET/$P/big/video.mp4: larger than storage.max_download_bytes (1000000)"

# --- 4. the server stops mid-transfer --------------------------------------------
# 40 MB in 8 parts of 5 MiB at 8 MiB/s: about 5 s, long enough to stop the
# server after two parts.
head -c 40000000 /dev/urandom > "$W/mid.bin"
LIMIT="-o storage.multipart_threshold_mb=5 -o storage.multipart_part_mb=5"
# shellcheck disable=SC2086
xfer $LIMIT -o storage.upload_limit_kib_s=8192 put "$W/mid.bin" "$U/mid/video.mp4" video/mp4 \
	> "$W/mid.out" 2> "$W/mid.err" &
XPID=$!
parts_done() { [ "$(s3_requests "$P/mid/video.mp4" '\| 200 \|.*\| partNumber=')" -ge "$1" ]; }
wait_for 60 parts_done 2 || bail "the upload did not get two parts through"
"$S3ENV" pause >/dev/null
retries_logged() { [ "$(grep -c 'transfer failed, retrying' "$1")" -ge "$2" ]; }
check "while S3 is down the uploader retries" wait_for 30 retries_logged "$W/mid.err" 3
check "  and is still running" kill -0 "$XPID"
"$S3ENV" resume >/dev/null || bail "S3 did not come back"
wait "$XPID"; rc=$?
out=$(cat "$W/mid.out")
diag "interrupted upload: $out"
check "the upload finishes after S3 is back (rc=$rc)" test "$rc" -eq 0
check "it counted its retries" test "$(field "$out" retries)" -ge 3
etag=$(s3_header "$P/mid/video.mp4" ETag)
check "the object went up in 8 parts (ETag $etag)" sh -c 'case $0 in *-8\") exit 0 ;; esac; exit 1' "$etag"
out=$(xfer get "$U/mid/video.mp4" "$W/mid.back" 2>&1)
check "and is whole (sha256 of a download)" \
	sh -c '[ "$0" = ok ] && [ "$1" = "$2" ]' "$(field "$out" result)" "$(sha "$W/mid.bin")" "$(sha "$W/mid.back")"
check "parts finished before the outage were not sent again" \
	test "$(s3_requests "$P/mid/video.mp4" '\| 200 \|.*\| partNumber=1&')" -eq 1
check "no multipart upload is left open" test "$(s3_uploads "$P/mid/")" -eq 0

# The same for a download, at 8 MiB/s.
xfer -o storage.download_limit_kib_s=8192 get "$U/mid/video.mp4" "$W/mid.dl" > "$W/dl.out" 2> "$W/dl.err" &
XPID=$!
grown() { [ "$(stat -c %s "$W/mid.dl" 2>/dev/null || echo 0)" -ge 8000000 ]; }
wait_for 60 grown || bail "the download did not start"
"$S3ENV" pause >/dev/null
check "while S3 is down the downloader retries" wait_for 30 retries_logged "$W/dl.err" 2
"$S3ENV" resume >/dev/null || bail "S3 did not come back"
wait "$XPID"; rc=$?
diag "interrupted download: $(cat "$W/dl.out")"
check "the download finishes after S3 is back (rc=$rc), whole" \
	sh -c '[ "$0" -eq 0 ] && [ "$1" = "$2" ]' "$rc" "$(sha "$W/mid.bin")" "$(sha "$W/mid.dl")"

# Down for good: it gives up after its retries, a transient failure.
"$S3ENV" pause >/dev/null
out=$(xfer -o storage.retries=2 -o storage.backoff_ms=50 put "$W/log.txt" "$U/down/log.txt" 2>&1); rc=$?
"$S3ENV" resume >/dev/null || bail "S3 did not come back"
check "S3 down for good: transient (rc=$rc), gives up after 2 retries naming the request" \
	sh -c '[ "$0" -eq 2 ] && printf "%s" "$1" | grep -q "$2"' "$rc" "$out" \
	"s3 PUT s3://$S3_BUCKET/$P/down/log.txt: .*(gave up after 2 retries)"

# --- 5. a file that shrinks during a multipart upload -----------------------------
head -c 40000000 /dev/urandom > "$W/shrink.bin"
# shellcheck disable=SC2086
xfer $LIMIT -o storage.upload_limit_kib_s=8192 put "$W/shrink.bin" "$U/shrink/video.mp4" \
	> "$W/shrink.out" 2> "$W/shrink.err" &
XPID=$!
shrink_parts() { [ "$(s3_requests "$P/shrink/video.mp4" '\| 200 \|.*\| partNumber=')" -ge 2 ]; }
wait_for 60 shrink_parts || bail "the upload did not get two parts through"
truncate -s 12000000 "$W/shrink.bin"
wait "$XPID"; rc=$?
out=$(cat "$W/shrink.out")
check "a file that shrinks mid-upload: permanent (rc=$rc), said so" \
	fails_with $rc "$out" "became shorter while it was being sent"
check "the multipart upload was aborted on the server" \
	test "$(s3_requests "$P/shrink/video.mp4" '\| 204 \| .*\| DELETE \|.*\| uploadId=')" -eq 1
check "no upload is left open, no object was made" \
	sh -c '[ "$0" -eq 0 ] && [ "$1" = 404 ]' "$(s3_uploads "$P/shrink/")" "$(s3_status "$P/shrink/video.mp4")"

[ "$tap_failed" -eq 0 ] || { diag "--- server log (last 20 lines)"; tail -n 20 "$S3_SERVER_LOG" | sed 's/^/# /'; }
tap_done
