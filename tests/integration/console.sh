#!/bin/bash
# What the console reads through the control socket, on an embedded
# gateway (docs/control.md):
#  1. logs: a running game's log followed through the socket (paiactl
#     logs -f) while it runs and to its end, byte for byte the file;
#     several followers; a planted symbolic link or FIFO as log.txt is
#     refused by name, never followed or opened (no hang);
#  2. a client that asks for a 64 MiB log and reads nothing: the gateway
#     reads on only as the client drains (what it read and its RSS stay
#     small), then the client gets every byte, in order;
#  3. videos and the video event; frame: a real PNG of the size the
#     answer says, scaled to at most frame_width; a task without video,
#     a second past the end, an unknown task: clear errors; video_data
#     and paiactl video: the file byte for byte, in pieces (700 kB of
#     random bytes as a video: three), the pieces at any offset; a
#     client that asks 300 pieces and reads none costs the gateway
#     about 1 MiB, then gets every one;
#  4. pods on the local runner: none, said plainly; lag's history.
. "$(dirname "$0")/lib.sh"

gw_start -o control.frame_width=96
cp "$SRCDIR/demo/sample-ai.py" "$STATE/programs/sample-ai.py"
SAMPLE=file://$STATE/programs/sample-ai.py
TMP=$STATE/console-test
mkdir -p "$TMP"

# client.py MODE ARGS: a raw control connection (python3), for what paiactl does not do.
cat >"$TMP/client.py" <<'PY'
import json, os, socket, sys, time
mode, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.connect(path)
f = s.makefile("rwb")
def send(obj):
    f.write((json.dumps(obj) + "\n").encode()); f.flush()
def line():
    l = f.readline()
    if not l:
        sys.exit("connection closed")
    return json.loads(l)
if mode == "twice":
    # The same log twice on one connection: refused; another task's is fine.
    send({"cmd": "logs", "id": sys.argv[3], "follow": True})
    send({"cmd": "logs", "id": sys.argv[3], "follow": True})
    answers = []
    while len(answers) < 2:
        m = line()
        if "ok" in m:
            answers.append(m)
    print(json.dumps(answers))
elif mode == "slow":
    # Ask, read a little, stop reading until told (a file appears), then read it all.
    task, gate, out = sys.argv[3], sys.argv[4], sys.argv[5]
    send({"cmd": "logs", "id": task})
    a = line()
    if not a.get("ok"):
        sys.exit("refused: " + a.get("error", "?"))
    got, expect, chunks = bytearray(), 0, 0
    def take(m):
        global expect, chunks
        if m.get("event") == "log":
            c = m["log"]
            if c["offset"] != expect:
                sys.exit("gap: offset %d, expected %d" % (c["offset"], expect))
            expect += c["bytes"]
            got.extend(c["data"].encode())
            chunks += 1
            return None
        return m
    while len(got) < 1 << 20:
        take(line())
    open(out + ".stalled", "w").write(str(len(got)))
    while not os.path.exists(gate):
        time.sleep(0.1)
    while True:
        m = take(line())
        if m is not None and m.get("event") == "log_end":
            break
    open(out, "wb").write(bytes(got))
    print(json.dumps({"bytes": expect, "chunks": chunks, "end": m["log_end"]}))
elif mode == "pieces":
    # video_data at offsets checked against the file; then many asked, none read for a while.
    import base64
    task, video, gate, out = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
    want = open(video, "rb").read()
    def piece(offset):
        send({"cmd": "video_data", "id": task, "offset": offset})
        a = line()
        if not a.get("ok"):
            sys.exit("refused: " + a.get("error", "?"))
        return a["video_data"]
    for off in (0, 1, 262144, len(want) - 10, len(want), len(want) + 1000):
        d = piece(off)
        data = base64.b64decode(d["data"])
        if (d["offset"], d["size"], d["bytes"], d["task_id"]) != (off, len(want), len(data), task) \
                or data != want[off:off + 262144]:
            sys.exit("piece at %d: %r" % (off, {k: d[k] for k in d if k != "data"}))
    # One write: 300 small ones could block on the socket's buffer (each its own skb)
    # once the gateway holds this client's requests, and it would then be dropped.
    f.write(("".join(json.dumps({"cmd": "video_data", "id": task}) + "\n"
                     for i in range(300))).encode()); f.flush()
    open(out + ".stalled", "w").write("300")
    while not os.path.exists(gate):
        time.sleep(0.1)
    for i in range(300):
        d = line()["video_data"]
        if base64.b64decode(d["data"]) != want[:262144]:
            sys.exit("piece %d of the 300 is not the file's start" % i)
    print("300 pieces")
PY

# rchar PID: bytes the process has read (read, pread, recv).
rchar() { awk '/^rchar/ {print $2}' "/proc/$1/io"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# paused PID: it reads less than 1 MiB a second (the embedded broker's
# traffic goes on; a log streamed unpaced is read many times faster).
paused() { local a b; a=$(rchar "$1"); sleep 1; b=$(rchar "$1"); [ $((b - a)) -lt 1048576 ]; }
state_is() { [ "$(task_field "$1" state)" = "$2" ]; }

# --- 1. logs through the socket ------------------------------------------------
# The program writes to its stderr (the game's log), then waits for a gate
# the test opens: the follower is seen following while the game runs. Its
# game waits for it as long (not 1 s a frame: a loaded machine opened the
# gate after the game had ended it).
GATED=$(program gated.sh 'echo "before the gate" >&2
i=0; while [ ! -e /workspace/input/gate ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i+1)); done
echo "after the gate" >&2; printf "caf\303\251 \001\033[2J\n" >&2; exit 0')
ctl submit --id gated --program "$GATED" --params '{"frames":3,"frame_timeout_ms":600000,"video":false}' >/dev/null
wait_for 60 state_is gated running || bail "gated never ran"
ctl logs gated -f >"$TMP/follow1" 2>"$TMP/follow1.err" &
f1=$!
ctl logs gated -f >"$TMP/follow2" 2>&1 &
f2=$!
check "logs -f shows the running game's log as it is written" \
	wait_for 30 grep -q "before the gate" "$TMP/follow1"
check "... and a second follower of the same task too" wait_for 30 grep -q "before the gate" "$TMP/follow2"
check "... while the game still runs (state running)" test "$(task_field gated state)" = running
check "... and the follower is still there" kill -0 "$f1"
# While the game runs, so the first stream cannot have ended before the second request.
out=$(python3 "$TMP/client.py" twice "$STATE/control.sock" gated)
check "one connection may not stream one log twice" \
	contains "$out" "this connection already streams the log of gated"
touch "$STATE/tasks/gated/input/gate"
check "the followers end on their own once the game ended" wait_for 60 sh -c "! kill -0 $f1 && ! kill -0 $f2"
wait "$f1"; rc1=$?
wait "$f2"; rc2=$?
check "... exit status 0 ($rc1, $rc2)" test "$rc1" -eq 0 -a "$rc2" -eq 0
check "... with what came after the gate" grep -q "after the gate" "$TMP/follow1"
check "a followed log is byte for byte output/log.txt" cmp -s "$TMP/follow1" "$STATE/tasks/gated/output/log.txt"
check "logs of a finished task (no -f) is the file too" sh -c \
	"'$PAIACTL' -d '$STATE' logs gated | cmp -s - '$STATE/tasks/gated/output/log.txt'"
script -qec "'$PAIACTL' -d '$STATE' logs gated" /dev/null >"$TMP/tty" 2>&1
check "on a terminal, control characters of the log are neutralised" python3 -c '
import sys
t = open(sys.argv[1], "rb").read()
sys.exit(0 if "café ??[2J".encode() in t and b"\033" not in t and b"\001" not in t else 1)
' "$TMP/tty"
out=$(ctl logs nosuch 2>&1); rc=$?
check "logs of an unknown task: error, exit 1" fails_with "$rc" "$out" "no task nosuch known to this gateway"

# Planted as root where the game's log was: a link to a secret, a FIFO.
echo "the secret" >"$TMP/secret"
ctl submit --id planted --program "$SAMPLE" --params '{"frames":3,"video":false}' >/dev/null
result_of planted >/dev/null || bail "no result for planted"
rm -f "$STATE/tasks/planted/output/log.txt"
ln -s "$TMP/secret" "$STATE/tasks/planted/output/log.txt"
out=$(timeout 20 "$PAIACTL" -d "$STATE" logs planted 2>&1); rc=$?
check "a symbolic link as log.txt is refused by name" fails_with "$rc" "$out" "output/log.txt is not read: a symbolic link"
check "... and what it points to is not shown" sh -c "! printf '%s' '$out' | grep -q 'the secret'"
out=$(timeout 20 "$PAIACTL" -d "$STATE" logs planted -f 2>&1); rc=$?
check "... with -f too" fails_with "$rc" "$out" "a symbolic link"
rm -f "$STATE/tasks/planted/output/log.txt"
mkfifo "$STATE/tasks/planted/output/log.txt"
out=$(timeout 20 "$PAIACTL" -d "$STATE" logs planted 2>&1); rc=$?
check "a FIFO as log.txt is refused at once, never opened (rc $rc)" fails_with "$rc" "$out" "output/log.txt is not read: a FIFO"
check "the gateway still answers" ctl status

# --- 2. a client that does not read -----------------------------------------------
ctl submit --id huge --program "$SAMPLE" --params '{"frames":3,"video":false}' >/dev/null
result_of huge >/dev/null || bail "no result for huge"
rm -f "$STATE/tasks/huge/output/log.txt"
yes "a line of a very long game log, 0123456789 0123456789 0123456789 ..." |
	head -c $((64 * 1024 * 1024)) >"$STATE/tasks/huge/output/log.txt"
rss0=$(rss_kb "$GW_PID")
r0=$(rchar "$GW_PID")
python3 "$TMP/client.py" slow "$STATE/control.sock" huge "$TMP/go" "$TMP/huge.out" >"$TMP/huge.json" &
slow=$!
wait_for 30 test -s "$TMP/huge.out.stalled" || bail "the slow client got nothing"
check "the gateway stops reading the log while the client does not read" wait_for 30 paused "$GW_PID"
read_mb=$(( ($(rchar "$GW_PID") - r0) / 1024 / 1024 ))
grew_mb=$(( ($(rss_kb "$GW_PID") - rss0) / 1024 ))
diag "gateway read $read_mb MiB of 64 and grew $grew_mb MiB while the client read 1 MiB"
check "... it read little of the 64 MiB ($read_mb MiB)" test "$read_mb" -lt 16
check "... its memory stays bounded ($grew_mb MiB)" test "$grew_mb" -lt 16
touch "$TMP/go"
check "once it reads, the client gets the whole log" wait_for 120 sh -c "! kill -0 $slow"
wait "$slow"
check "... every byte, in order" cmp -s "$TMP/huge.out" "$STATE/tasks/huge/output/log.txt"
check "... then log_end (eof)" contains "$(cat "$TMP/huge.json")" '"reason": "eof"'

# --- 3. videos and frames ----------------------------------------------------------------
ctl watch >"$TMP/events" 2>&1 &
watcher=$!
wait_for 10 test -s "$TMP/events"
ctl submit --id vid --program "$SAMPLE" --params '{"frames":30,"fps":10}' >/dev/null
result_of vid >/dev/null || bail "no result for vid"
check "a video event when a task with a video is reported" \
	wait_for 30 grep -q '"event":"video","video":{"task_id":"vid"' "$TMP/events"
kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null
ctl videos --json >"$TMP/videos.json"
check "videos lists it, newest first, with a local copy" python3 - "$TMP/videos.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))["videos"]
sys.exit(0 if v and v[0]["task_id"] == "vid" and v[0]["local"] is True and v[0]["bytes"] > 0
         and v[0]["name"] == "video.mp4" and all(x["task_id"] != "gated" for x in v) else 1)
PY
check "videos prints a table" sh -c "'$PAIACTL' -d '$STATE' videos | grep -q '^vid '"
rm -f "$TMP/f.png"
out=$(ctl frame vid --at 1.5 -o "$TMP/f.png" 2>&1)
check "frame writes a PNG ($out)" test -s "$TMP/f.png"
check "... a real PNG, at most 96 px wide as configured, as the answer said" python3 - "$TMP/f.png" "$out" <<'PY'
import re, struct, sys
d = open(sys.argv[1], "rb").read()
if d[:8] != b"\x89PNG\r\n\x1a\n" or d[12:16] != b"IHDR":
    sys.exit(1)
w, h = struct.unpack(">II", d[16:24])
m = re.search(r"(\d+)x(\d+) PNG, (\d+) bytes", sys.argv[2])
sys.exit(0 if m and (w, h, len(d)) == tuple(map(int, m.groups())) and 0 < w <= 96 else 1)
PY
ctl frame vid --at 1.5 -o "$TMP/j.png" --json >"$TMP/frame.json"
check "frame --json: what was written, as the file is" python3 - "$TMP/j.png" "$TMP/frame.json" <<'PY'
import json, struct, sys
d = open(sys.argv[1], "rb").read()
v = json.load(open(sys.argv[2]))
w, h = struct.unpack(">II", d[16:24])
sys.exit(0 if (v["task_id"], v["at"], v["width"], v["height"], v["bytes"], v["file"]) ==
         ("vid", 1.5, w, h, len(d), sys.argv[1]) and v["attempt"] == 1 else 1)
PY
rm -f "$TMP/j.png"
out=$(ctl frame vid --at 3600 -o "$TMP/g.png" 2>&1); rc=$?
check "a frame past the video's end: a clear error" fails_with "$rc" "$out" "no frame there"
out=$(ctl frame gated -o "$TMP/g.png" 2>&1); rc=$?
check "frame of a task without video: a clear error" fails_with "$rc" "$out" "task gated has no video"
out=$(ctl frame nosuch -o "$TMP/g.png" 2>&1); rc=$?
check "frame of an unknown task: a clear error" fails_with "$rc" "$out" "no task nosuch known"
out=$(ctl frame vid --at -1 -o "$TMP/g.png" 2>&1); rc=$?
check "frame --at -1: a usage error (exit 2)" test "$rc" -eq 2
check "nothing is written on errors" test ! -e "$TMP/g.png"

# video_data: the file, in pieces; paiactl video.
VIDEO=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["videos"][0]["path"])' "$TMP/videos.json")
check "videos names the local copy's path" test "$VIDEO" = "$STATE/tasks/vid/output/video.mp4"
out=$(ctl video vid -o "$TMP/v.mp4" 2>&1)
check "video writes the file ($out)" cmp -s "$TMP/v.mp4" "$VIDEO"
BIG=$(program big.sh 'head -c 700000 /dev/urandom >output/video.mp4
while read -r line; do echo STAY; done')
ctl submit --id big --program "$BIG" --params '{"frames":3,"video":false}' >/dev/null
result_of big >/dev/null || bail "no result for big"
BIGV=$STATE/tasks/big/output/video.mp4
check "big's video is its 700000 random bytes" test "$(stat -c %s "$BIGV")" -eq 700000
ctl video big -o "$TMP/big.mp4" --json >"$TMP/big.json"
check "video of 700 kB (three pieces): byte for byte" cmp -s "$TMP/big.mp4" "$BIGV"
check "... --json says what was written" test "$(cat "$TMP/big.json")" = \
	"{\"task_id\":\"big\",\"attempt\":1,\"bytes\":700000,\"file\":\"$TMP/big.mp4\"}"
check "video -o - writes it to stdout" eval '[ "$(ctl video big -o - | sha256sum)" = "$(sha256sum <"$BIGV")" ]'
out=$(ctl video gated -o "$TMP/g.mp4" 2>&1); rc=$?
check "video of a task without video: a clear error" fails_with "$rc" "$out" "task gated has no video"
out=$(ctl video nosuch -o "$TMP/g.mp4" 2>&1); rc=$?
check "video of an unknown task: a clear error" fails_with "$rc" "$out" "no task nosuch known"
check "... nothing written" test ! -e "$TMP/g.mp4"
rss0=$(rss_kb "$GW_PID")
r0=$(rchar "$GW_PID")
python3 "$TMP/client.py" pieces "$STATE/control.sock" big "$BIGV" "$TMP/pgo" "$TMP/pieces" \
	>"$TMP/pieces.out" 2>&1 &
pieces=$!
check "video_data at offsets: the file's bytes there" wait_for 60 test -s "$TMP/pieces.stalled"
check "... 300 pieces asked, none read: the gateway stops reading the file" \
	wait_for 30 paused "$GW_PID"
read_mb=$(( ($(rchar "$GW_PID") - r0) / 1024 / 1024 ))
grew_mb=$(( ($(rss_kb "$GW_PID") - rss0) / 1024 ))
diag "gateway read $read_mb MiB and grew $grew_mb MiB with 300 pieces (75 MiB) asked, none read"
check "... it read little of the 75 MiB ($read_mb MiB)" test "$read_mb" -lt 16
check "... 300 pieces asked, none read: the gateway's memory stays bounded ($grew_mb MiB)" \
	test "$grew_mb" -lt 16
touch "$TMP/pgo"
check "... then read: every piece" wait_for 120 sh -c "! kill -0 $pieces"
wait "$pieces"
check "... each the file's start" grep -qx "300 pieces" "$TMP/pieces.out"
grep -qx "300 pieces" "$TMP/pieces.out" || diag "the client: $(cat "$TMP/pieces.out")"

# --- 4. pods on the local runner, lag history --------------------------------------------
check "pods --json: runner local, no pods" \
	test "$(ctl pods --json)" = '{"runner":"local","synced":false,"pods":[]}'
check "pods says why there are none" sh -c "'$PAIACTL' -d '$STATE' pods 2>&1 | grep -q 'runner is local'"
check "lag --json carries each partition's history" python3 -c '
import json, subprocess, sys
a = json.loads(subprocess.run(sys.argv[1:], capture_output=True, text=True).stdout)
sys.exit(0 if a["partitions"] and all(isinstance(p["history"], list) for p in a["partitions"]) else 1)
' "$PAIACTL" -d "$STATE" lag --json
check "lag --history draws a line per partition" sh -c "'$PAIACTL' -d '$STATE' lag --history |
	grep -Eq '^partition [0-9]+: (no history yet|.* checks over .*, max lag [0-9]+, now -?[0-9]+)\$'"

gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
