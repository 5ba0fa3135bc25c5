#!/bin/bash
#
# demo-game.sh -- integration checks for paia-demo-game (the paiagym stand-in).
#
# Usage: demo-game.sh [path/to/paia-demo-game] [source-dir]
#   $1 defaults to demo/paia-demo-game, $2 (where demo/sample-ai.py lives) to ".".
# Builds nothing. Each check runs the game in a fresh temporary workspace
# (input/ + output/) the way the runner does, with the PAIA_* environment.
# Prints "ok N - ..." / "not ok N - ..." and exits 1 if any check failed.

set -eu

game=${1:-${DEMO_GAME:-demo/paia-demo-game}}
srcdir=${2:-${SRCDIR:-.}}
case $game in /*) ;; *) game=$PWD/$game ;; esac
case $srcdir in /*) ;; *) srcdir=$PWD/$srcdir ;; esac

if [ ! -x "$game" ]; then
	echo "Bail out! $game is not an executable" >&2
	exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
	echo "Bail out! python3 is needed (sample AI, JSON checks)" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/demo-game-test.XXXXXX")
leftover=
cleanup() {
	if [ -n "$leftover" ]; then kill "$leftover" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

n=0
failed=0
check() { # check DESCRIPTION RESULT(0=pass) [WHY]
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		[ -z "${3:-}" ] || echo "# $3"
		failed=1
	fi
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

# mkws NAME: a fresh workspace; prints its path.
mkws() {
	mkdir -p "$tmp/$1/input" "$tmp/$1/output"
	echo "$tmp/$1"
}

# alive PID: true if PID runs (a zombie, e.g. under a non-reaping init, is
# dead).
alive() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || true
	[ "$st" != Z ]
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# run WS ENTRY PARAMS: run the game like the runner; sets rc and elapsed.
run() {
	local t0
	t0=$(now_ms)
	set +e
	(cd "$1" && env PAIA_TASK_ID="test-$(basename "$1")" PAIA_GAME=catch \
	    PAIA_WORKSPACE="$1" PAIA_ENTRY="$2" PAIA_PARAMS="$3" \
	    timeout -s KILL 60 "$game") >"$1/output/log.txt" 2>&1 </dev/null
	rc=$?
	set -e
	elapsed=$(($(now_ms) - t0))
}

# jcheck FILE PYTHON-EXPR: true if the expression holds for r = result.
jcheck() {
	python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null
}

# why WS: one comment line of context for a failure.
why() {
	local res log
	res=$(tr -d '\n\t' 2>/dev/null <"$1/output/result.json" || echo none)
	log=$(tail -n 3 "$1/output/log.txt" 2>/dev/null | tr '\n' '|')
	echo "rc=$rc elapsed=${elapsed}ms result=$res log=$log"
}

# (a) The sample AI plays 30 frames and catches something; a video exists.
ws=$(mkws sample)
cp "$srcdir/demo/sample-ai.py" "$ws/input/sample-ai.py"
run "$ws" sample-ai.py '{"frames":30,"seed":42}'
r=1
if [ "$rc" -eq 0 ] && jcheck "$ws/output/result.json" \
    'r["score"] >= 1 and r["frames"] == 30 and r["program_exit"] == 0 and r["game"] == "catch"'; then
	r=0
fi
check "sample AI, 30 frames: exit 0, score >= 1, frames == 30" $r "$(why "$ws")"
if command -v ffprobe >/dev/null 2>&1; then
	r=1
	streams=$(ffprobe -v error -show_entries stream=codec_type \
	    -of csv=p=0 "$ws/output/video.mp4" 2>&1) || true
	if [ "$streams" = video ] && jcheck "$ws/output/result.json" \
	    'r["video"] == "video.mp4"'; then
		r=0
	fi
	check "sample AI: ffprobe reads output/video.mp4 (a video stream)" $r \
	    "ffprobe said: $streams"
else
	skip "sample AI: ffprobe reads output/video.mp4" "ffprobe not found"
fi

# (b) A program that exits 3 at once: the game exits 3 and says so.
ws=$(mkws fail)
printf '#!/bin/sh\nexit 3\n' >"$ws/input/fail.sh"
run "$ws" fail.sh '{"frames":30,"video":false}'
r=1
if [ "$rc" -eq 3 ] && jcheck "$ws/output/result.json" \
    'r["program_exit"] == 3 and r.get("error") and r["video"] is None'; then
	r=0
fi
check "program exits 3: game exits 3, result.json program_exit 3" $r \
    "$(why "$ws")"

# (c) frames=0: exit 0 at once, the program is never started.
ws=$(mkws zero)
printf '#!/bin/sh\ntouch "%s/started"\ncat >/dev/null\n' "$ws" \
    >"$ws/input/marker.sh"
run "$ws" marker.sh '{"frames":0}'
sleep 0.2
r=1
if [ "$rc" -eq 0 ] && [ ! -e "$ws/started" ] && [ "$elapsed" -lt 5000 ] &&
    jcheck "$ws/output/result.json" 'r["frames"] == 0'; then
	r=0
fi
check "frames=0: exit 0 at once, program not started" $r "$(why "$ws")"

# (d) A program that never answers: every frame times out, the game ends
# and does not hang on the still running program (it must kill it).
ws=$(mkws silent)
printf '#!/bin/sh\necho $$ >"%s/pid"\nexec sleep 30\n' "$ws" \
    >"$ws/input/silent.sh"
run "$ws" silent.sh '{"frames":3,"frame_timeout_ms":100,"video":false}'
leftover=$(cat "$ws/pid" 2>/dev/null || true)
alive=0
if [ -n "$leftover" ] && alive "$leftover"; then alive=1; fi
r=1
if [ "$rc" -eq 0 ] && [ "$elapsed" -lt 8000 ] && [ -n "$leftover" ] &&
    [ "$alive" -eq 0 ] && jcheck "$ws/output/result.json" \
    'r["frames"] == 3 and r["score"] == 0'; then
	r=0
fi
check "silent program, 3 frames x 100 ms: exit 0 in a few s, child killed" \
    $r "alive=$alive $(why "$ws")"
if [ "$alive" -eq 1 ]; then kill "$leftover" 2>/dev/null || true; fi
leftover=

# (e) A bad flag: usage on stderr, exit 2.
set +e
err=$("$game" -Z 2>&1 >/dev/null)
rc=$?
set -e
r=1
case $err in *usage:*) [ "$rc" -ne 2 ] || r=0 ;; esac
check "bad flag: usage: on stderr, exit 2" $r "rc=$rc stderr=$err"

echo "1..$n"
exit $failed
