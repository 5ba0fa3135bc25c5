#!/bin/bash
# The frame command's ffmpeg reads a video the game wrote: hostile input
# to a large decoder. On an embedded gateway:
#  1. control.frame_sandbox = bwrap (the default): an ffmpeg (a probe in
#     its place, control.ffmpeg) finds neither the gateway's state folder
#     nor the network, and runs as runner.user when the gateway is root;
#     with control.frame_sandbox = none it finds both (the probe tells
#     the two apart), still not as root;
#  2. a playlist planted as video.mp4 (an HLS list naming a video the
#     game cannot reach): ffmpeg reads only the video contract's
#     containers, so no frame of that video comes back, with or without
#     the sandbox, and the request gets ffmpeg's reason;
#  3. a real video still gives its frame in the sandbox.
. "$(dirname "$0")/lib.sh"

if ! command -v bwrap >/dev/null 2>&1 || ! command -v ffmpeg >/dev/null 2>&1; then
	echo "1..0 # SKIP bwrap or ffmpeg not installed (scripts/setup.sh installs both)"
	exit 0
fi
# runner.user must reach the probe: a folder of its own, readable by all.
PROBE_DIR=$(mktemp -d /tmp/paia-frames-probe.XXXXXX)
STATES="$PROBE_DIR"
chmod 755 "$PROBE_DIR"

# A loopback listener that notes every connection (a file per accept).
cat >"$PROBE_DIR/listen.py" <<'PY'
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
n = 0
while True:
    c, _ = s.accept()
    n += 1
    open("%s.conn%d" % (sys.argv[1], n), "w").close()
    c.close()
PY
python3 "$PROBE_DIR/listen.py" "$PROBE_DIR/port" &
LISTENER=$!
trap 'kill $LISTENER 2>/dev/null; cleanup' EXIT
wait_for 10 test -s "$PROBE_DIR/port" || bail "the listener did not start"
PORT=$(cat "$PROBE_DIR/port")

# probe STATE: an "ffmpeg" that says what it can reach, as its last line.
probe() {
	cat >"$PROBE_DIR/ffmpeg-probe" <<EOF
#!/bin/sh
state=absent
[ -e '$1' ] && state=present
net=\$(python3 -c 'import socket
try:
    socket.create_connection(("127.0.0.1", $PORT), 2).close(); print("up")
except OSError:
    print("down")' 2>/dev/null)
echo "probe: uid=\$(id -u) state=\$state net=\${net:-none}" >&2
exit 1
EOF
	chmod 755 "$PROBE_DIR/ffmpeg-probe"
}

# with_video ID: a task whose game wrote some video bytes, its result in.
with_video() {
	local p
	p=$(program "$1.sh" 'head -c 4096 /dev/zero >output/video.mp4
while read -r line; do echo STAY; done')
	ctl submit --id "$1" --program "$p" --params '{"frames":3,"video":false}' >/dev/null
	result_of "$1" >/dev/null || bail "no result for $1"
}

# --- 1. what ffmpeg reaches ----------------------------------------------------------------
gw_start -o control.ffmpeg="$PROBE_DIR/ffmpeg-probe"
probe "$STATE"
with_video sb
out=$(ctl frame sb -o "$PROBE_DIR/sb.png" 2>&1)
diag "sandboxed: $out"
check "sandboxed: the probe ran and said so" contains "$out" "probe: uid="
check "... the state folder is not there" contains "$out" "state=absent"
check "... nor the network" contains "$out" "net=down"
if [ "$(id -u)" = 0 ]; then
	check "... as runner.user, not root" eval 'contains "$out" "uid=$(id -u paia-game) "'
fi
gw_stop

gw_start -o control.ffmpeg="$PROBE_DIR/ffmpeg-probe" -o control.frame_sandbox=none
probe "$STATE"
with_video open
out=$(ctl frame open -o "$PROBE_DIR/open.png" 2>&1)
diag "frame_sandbox = none: $out"
check "frame_sandbox = none: the probe sees the state folder" contains "$out" "state=present"
check "... and the network" contains "$out" "net=up"
if [ "$(id -u)" = 0 ]; then
	check "... still as runner.user" eval 'contains "$out" "uid=$(id -u paia-game) "'
fi
gw_stop

# --- 2. a playlist as video.mp4 --------------------------------------------------------------
# It names a video the game cannot reach (outside its sandbox) but an
# ffmpeg that followed it could: its frame would be another's picture.
ffmpeg -nostdin -hide_banner -loglevel error -f lavfi -i testsrc=size=64x48:rate=10 -t 2 \
	-pix_fmt yuv420p -f mpegts "$PROBE_DIR/secret.ts" || bail "ffmpeg cannot make the test video"
chmod 644 "$PROBE_DIR/secret.ts"
for sandbox in none bwrap; do
	rm -f "$PROBE_DIR/hls.png"
	gw_start -o control.frame_sandbox=$sandbox
	p=$(program hls.sh "printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nfile:$PROBE_DIR/secret.ts\n#EXT-X-ENDLIST\n' >output/video.mp4
while read -r line; do echo STAY; done")
	ctl submit --id hls --program "$p" --params '{"frames":3,"video":false}' >/dev/null
	result_of hls >/dev/null || bail "no result for hls"
	out=$(ctl frame hls --at 0.5 -o "$PROBE_DIR/hls.png" 2>&1); rc=$?
	diag "playlist, frame_sandbox = $sandbox: $out"
	check "playlist ($sandbox): refused with ffmpeg's reason" fails_with "$rc" "$out" "ffmpeg failed"
	check "... no frame of the video it names" test ! -e "$PROBE_DIR/hls.png"
	gw_stop
done

# --- 3. a real video in the sandbox -------------------------------------------------------------
gw_start -o control.frame_width=64
cp "$SRCDIR/demo/sample-ai.py" "$STATE/programs/sample-ai.py"
ctl submit --id vid --program "file://$STATE/programs/sample-ai.py" \
	--params '{"frames":20,"fps":10}' >/dev/null
result_of vid >/dev/null || bail "no result for vid"
out=$(ctl frame vid --at 0.5 -o "$PROBE_DIR/vid.png" 2>&1)
check "a real video's frame, made in the sandbox ($out)" contains "$out" "64x"
check "... a PNG" sh -c "head -c 8 '$PROBE_DIR/vid.png' | od -An -c | grep -q 'P   N   G'"
gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
