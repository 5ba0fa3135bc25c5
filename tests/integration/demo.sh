#!/bin/bash
# The README's demo: paia-gateway --demo N runs N tasks on the embedded
# default and exits 0 once every result is committed; each result has a
# log, a result.json and a video that ffprobe reads.
. "$(dirname "$0")/lib.sh"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-demo.XXXXXX")
"$GATEWAY" --demo 3 --state-dir "$STATE" >"$STATE/out" 2>"$STATE/gateway.log"
rc=$?
GW_LOG=$STATE/gateway.log
check "--demo 3 exits 0 (rc=$rc)" test "$rc" -eq 0
check "the summary lists 3 succeeded tasks" \
	test "$(grep -c ' succeeded ' "$STATE/out")" -eq 3
for i in 1 2 3; do
	d=$STATE/results/demo-$i/1
	check "demo-$i: log.txt and result.json uploaded" test -s "$d/log.txt" -a -s "$d/result.json"
	check "demo-$i: result.json has a score" python3 -c \
		'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if isinstance(r["score"], int) else 1)' \
		"$d/result.json"
	if command -v ffprobe >/dev/null; then
		check "demo-$i: ffprobe reads the video" sh -c \
			"ffprobe -v error -select_streams v:0 -show_entries stream=codec_type -of csv=p=0 '$d/video.mp4' | grep -qx video"
	else
		ok "demo-$i: ffprobe reads the video # SKIP ffprobe not installed"
	fi
done
check "embedded.json is removed at exit" test ! -e "$STATE/embedded.json"
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
