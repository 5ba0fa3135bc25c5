#!/bin/bash
# Links and odd files left where the gateway collects artifacts: every
# kind is refused, named in the result with its reason, and none of the
# bytes it points at reaches storage. The local runner's sandbox keeps a
# game from making most of them (it runs as paia-game, sees only its
# task folder, dies with its pid namespace), but a pod on the shared
# volume (runner.type = k8s) or a sandbox set to none can: so the test
# itself plants them, as root, in the task folder of a game that waits
# for it (the game writes output/.ready, then plays once output/.go is
# there), and the gateway's reading alone must hold.
#  - symbolic links: absolute to a 0600 file of the gateway's host,
#    relative ../../.., to a sibling task's input/, output/ itself linked
#    to a folder elsewhere;
#  - a hard link to the gateway's file, a FIFO (must not hang), a
#    device (as root), a sparse 100 GiB file;
#  - log.txt: 5 MB of output and a sparse 300 GiB one: cut to head and
#    tail with a line saying so; artifacts over the task's budget;
#  - a lingering child swapping log.txt for a link while the gateway
#    collects; a directory as program.
. "$(dirname "$0")/lib.sh"

gw_start -o gateway.max_inflight=8 -o storage.max_artifact_bytes=1048576 \
	-o storage.max_task_bytes=1000000 -o storage.max_log_bytes=65536 -o storage.retries=0
SECRET="TOPSECRET-$$-$RANDOM"
printf '%s\n' "$SECRET" > "$STATE/secret"
chmod 600 "$STATE/secret"
mkdir -p "$STATE/elsewhere"
printf 'ELSEWHERE-%s\n' "$SECRET" > "$STATE/elsewhere/video.mp4"
FAST='{"frames":3,"video":false}'
# The hostile games' frames wait for their program as long as it waits for
# the test: the default (1 s a frame) ended a game before a loaded machine
# had planted in its folder, and nothing was left to refuse.
HOLD='{"frames":3,"frame_timeout_ms":600000,"video":false}'

# hostile NAME PYTHON: a user program that runs PYTHON in the game (in
# the task folder), says it is ready and waits for the test's go, then plays.
hostile() {
	cat > "$STATE/programs/$1.py" <<PY
import os, sys, time
$2
open("output/.ready", "w").close()
# Until the test planted what it plants (plant touches .go even when it
# gives up): a bound for a test that died, not a deadline a loaded machine meets.
end = time.time() + 1800
while not os.path.exists("output/.go") and time.time() < end:
    time.sleep(0.05)
for line in sys.stdin:
    print("STAY", flush=True)
PY
	echo "file://$STATE/programs/$1.py"
}
# plant ID PYTHON: once task ID's game is ready, run PYTHON as root in its
# folder (as a pod on the shared volume could), then let the game end.
plant() {
	local dir=$STATE/tasks/$1 i
	for i in $(seq 6000); do
		[ -e "$dir/output/.ready" ] && break
		sleep 0.1
	done
	[ -e "$dir/output/.ready" ] || { diag "$1: its game never got ready"; touch "$dir/output/.go"; return 1; }
	(cd "$dir" && SECRET_FILE=$STATE/secret python3 -c "import os, sys
SECRET_FILE = os.environ['SECRET_FILE']
$2") || diag "$1: planting failed"
	touch "$dir/output.real/.go" 2>/dev/null || touch "$dir/output/.go"
}
# refused ID NAME REASON: the result names NAME as refused, saying REASON.
refused() {
	local r
	r=$(result_of "$1" "" 120) || { diag "no result for $1"; return 1; }
	jget "$r" 'any(x["name"] == sys.argv[3] and sys.argv[4] in x["reason"] for x in r["artifacts_refused"])' \
	    "$2" "$3" | grep -q True || { diag "$1: $(jget "$r" 'r["artifacts_refused"]')"; return 1; }
}
jget() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$@"; }
# uploaded ID NAME: the artifact NAME of task ID was uploaded (its URL printed).
uploaded() { jget "$(result_of "$1" "" 120)" 'next((a["url"] for a in r["artifacts"] if a["name"] == sys.argv[3]), "")' "$2"; }

# A victim whose input/ a later task points at (its folder stays after it ends).
cat > "$STATE/programs/victim.py" <<'PY'
# VICTIM-PROGRAM: another user's code
import sys
for line in sys.stdin:
    print("STAY", flush=True)
PY
ctl submit --id victim --program "file://$STATE/programs/victim.py" --params "$FAST" >/dev/null
result_of victim "" 60 >/dev/null || bail "no result for victim"

submit() { ctl submit --id "$1" --program "$2" --params "$HOLD" >/dev/null || bail "submit $1"; }
submit abs "$(hostile abs '')"
submit rel "$(hostile rel '')"
submit sibling "$(hostile sibling '')"
submit outdir "$(hostile outdir '')"
submit hard "$(hostile hard '')"
submit fifo "$(hostile fifo '')"
submit sparse "$(hostile sparse '')"
submit budget "$(hostile budget '')"
submit biglog "$(hostile biglog '
sys.stderr.write("HEAD-MARK\n")
for i in range(50000):
    sys.stderr.write("filler line %08d ............................................................\n" % i)
sys.stderr.write("TAIL-MARK\n"); sys.stderr.flush()')"
submit sparselog "$(hostile sparselog '
sys.stderr.write("SPARSE-HEAD\n"); sys.stderr.flush()')"
submit plain "$(hostile plain '')"
ROOT=$(id -u)
[ "$ROOT" != 0 ] || submit device "$(hostile device '')"
plant abs 'os.symlink(SECRET_FILE, "output/video.mp4")'
plant rel 'os.symlink("../../../secret", "output/video.mp4")'
plant sibling 'os.symlink("../../victim/input/victim.py", "output/video.webm")'
plant outdir "os.rename('output', 'output.real'); os.symlink('$STATE/elsewhere', 'output')"
plant hard 'os.link(SECRET_FILE, "output/video.mp4")'
plant fifo 'os.mkfifo("output/video.mp4")'
plant sparse 'f = open("output/video.mp4", "wb"); f.truncate(100 << 30); f.close()'
plant budget 'open("output/video.mp4", "wb").write(b"v" * 1040000)'
plant biglog ''
plant sparselog 'os.truncate("output/log.txt", 300 << 30)
open("output/log.txt", "a").write("SPARSE-TAIL\n")'
plant plain ''
[ "$ROOT" != 0 ] || plant device 'os.mknod("output/video.mp4", 0o20644, os.makedev(1, 3))'

check "absolute symlink to a 0600 file: refused, named" refused abs video.mp4 "a symbolic link"
check "relative ../../.. symlink: refused" refused rel video.mp4 "a symbolic link"
check "symlink to a sibling task's input/: refused" refused sibling video.webm "a symbolic link"
check "output/ itself a link to a folder elsewhere: refused" refused outdir output "a symbolic link"
r=$(result_of outdir)
check "  and nothing of that folder is uploaded" test "$(jget "$r" 'len(r["artifacts"])')" = 0
check "hard link to the gateway's file: refused" refused hard video.mp4 "a hard link (2 links"
check "a FIFO as video: refused, the task did not hang" refused fifo video.mp4 "a FIFO"
check "a sparse 100 GiB video: refused on its size" refused sparse video.mp4 \
	"107374182400 bytes, over storage.max_artifact_bytes (1048576)"
check "artifacts over storage.max_task_bytes: the one past it refused" refused budget video.mp4 \
	"over what is left of storage.max_task_bytes (1000000)"
if [ "$ROOT" = 0 ]; then
	check "a character device as video: refused" refused device video.mp4 "a character device"
else
	ok "# SKIP a device needs root to make"
fi
r=$(result_of abs)
check "a refusal does not fail the task: succeeded" test "$(jget "$r" 'r["status"]')" = succeeded
check "  and the rest went up (log.txt, result.json)" \
	test "$(jget "$r" '",".join(sorted(a["name"] for a in r["artifacts"]))')" = "log.txt,result.json"
check "the refusal is logged with its reason" \
	grep -q 'artifact refused.*task=abs.*name=video.mp4.*symbolic link' "$GW_LOG"
r=$(result_of plain)
check "a plain program: log and result uploaded, none refused" \
	test "$(jget "$r" 'str(len(r["artifacts"])) + "/" + str(len(r["artifacts_refused"]))')" = "2/0"

# log.txt: head and tail with the line saying what was cut.
for id in biglog sparselog; do
	u=$(uploaded $id log.txt)
	f=${u#file://}
	size=$(stat -c %s "$f" 2>/dev/null || echo 0)
	check "$id: the uploaded log is cut to storage.max_log_bytes ($size bytes)" \
		test "$size" -gt 1000 -a "$size" -le 65536
	check "$id: it says how much was cut" grep -q '^\[paia-gateway: [0-9]* bytes cut from the middle of this log' "$f"
	check "$id: the result marks it truncated" \
		test "$(jget "$(result_of $id)" 'next(a.get("truncated") for a in r["artifacts"] if a["name"] == "log.txt")')" = True
done
f=$(uploaded biglog log.txt); f=${f#file://}
check "biglog: its head and its tail are kept" sh -c "grep -q HEAD-MARK '$f' && grep -q TAIL-MARK '$f' && grep -q 'end: score' '$f'"
f=$(uploaded sparselog log.txt); f=${f#file://}
check "sparselog: 300 GiB of nothing cut, its lines kept" sh -c "grep -q SPARSE-HEAD '$f' && grep -aq SPARSE-TAIL '$f'"

# Something swaps log.txt for a link as fast as it can while the gateway collects.
hostile linger '' >/dev/null
for i in 1 2 3 4 5; do
	ctl submit --id "linger$i" --program "file://$STATE/programs/linger.py" --params "$HOLD" >/dev/null
	plant "linger$i" '' || continue
	(cd "$STATE/tasks/linger$i" && end=$((SECONDS + 60)) &&
	while [ $SECONDS -lt $end ] && [ -d output ] && [ ! -e "$STATE/linger.stop" ]; do
		ln -sfn "$STATE/secret" output/.l && mv -fT output/.l output/log.txt
		echo regular > output/.r && mv -fT output/.r output/log.txt
	done) 2>/dev/null &
	swapper=$!
	result_of "linger$i" "" 60 >/dev/null || diag "no result for linger$i"
	touch "$STATE/linger.stop"
	wait "$swapper"
	rm -f "$STATE/linger.stop"
done
n=0
for i in 1 2 3 4 5; do
	r=$(result_of "linger$i" "" 1) || continue
	jget "$r" 'any(x["name"] == "log.txt" for x in r["artifacts_refused"]) or any(a["name"] == "log.txt" for a in r["artifacts"])' | grep -q True && n=$((n + 1))
done
check "a log swapped for a link while collected: uploaded as a regular file or refused ($n of 5)" test "$n" -eq 5

# A directory as the program: invalid, not a 0-byte "success".
ctl submit --id dirprog --program "file://$STATE/programs" --params "$FAST" >/dev/null
r=$(result_of dirprog)
check "a directory as program: error, class invalid, saying so" \
	test "$(jget "$r" 'r["status"] + "/" + r["error"]["class"] + "/" + str("not a regular file (a directory)" in r["error"]["message"])')" = error/invalid/True

# Storage holds none of the bytes the links pointed at.
check "no secret, no other task's program, nothing of the linked folder in storage" \
	sh -c "! grep -rqa -e '$SECRET' -e VICTIM-PROGRAM -e ELSEWHERE '$STATE/results'"
gw_stop
check "gateway exits 0 (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
