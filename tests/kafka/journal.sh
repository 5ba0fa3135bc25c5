#!/bin/bash
# The launch journal under kill -9 at each of its steps, on a real broker
# (tests/env/kafka.sh start). A gateway with PAIA_TEST_KILL_AT=STEP (a
# test-only switch) SIGKILLs itself right after that step of a task's
# launch claim (claims.c):
#
#   claim    the claim made, the game not launched yet
#   pid      the game launched and its process group noted in the claim
#            (the game leaves a grandchild behind, as a game without a
#            sandbox can)
#   release  the result committed and the claim removed
#
# A second gateway on the same state folder then finishes the work. Each
# time: one result, no attempt launched twice, the attempt a killed run
# may have begun never reused, what the killed game left running
# stopped, and no claim left once the result is in.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-journal.XXXXXX")
STATES="$STATE"
chmod 711 "$STATE"
mkdir -p "$STATE/programs"
: > "$STATE/launches"
chmod 666 "$STATE/launches"
mkdir -m 1777 "$STATE/left"	# the games run as runner.user
# Every launch appends "task attempt"; it leaves a sleeper behind (its pid in left/TASK-ATTEMPT).
P=$(program launch.sh "echo \"\$PAIA_TASK_ID \$PAIA_ATTEMPT\" >> $STATE/launches
sleep 600 </dev/null >/dev/null 2>&1 &
echo \$! > $STATE/left/\$PAIA_TASK_ID-\$PAIA_ATTEMPT
while read l; do sleep 0.5; echo STAY; done")
claims_left() { ls "$STATE/$1/launched" 2>/dev/null | wc -l; }
# one_result ID: task ID has one committed result, succeeded (submit --count 1 keeps the id).
one_result() {
	ctl results --raw | python3 -c '
import json, sys
rs = [r for r in map(json.loads, sys.stdin) if r["task_id"] == sys.argv[1]]
print("# %s: %d result(s) %s" % (sys.argv[1], len(rs), [r["status"] for r in rs]))
sys.exit(0 if len(rs) == 1 and rs[0]["status"] == "succeeded" else 1)' "$1"
}

for step in claim pid release; do
	conf=$STATE/$step.conf
	kafka_conf "$conf" "$STATE/$step" "journal$step" 1 5
	echo "sandbox = none" >> "$conf"
	mkdir -p -m 711 "$STATE/$step/tasks"
	ctl() { "$PAIACTL" -c "$conf" "$@"; }
	ctl topics --create --partitions 1,1,1 >/dev/null || bail "cannot create topics at $KAFKA"
	GW_LOG=$STATE/$step.log
	# At "pid", the game gets 1.5 s to start its program (and the sleeper) first.
	PAIA_TEST_KILL_AT=$step PAIA_TEST_KILL_DELAY_MS=1500 "$GATEWAY" -c "$conf" 2>>"$GW_LOG" &
	GW_PID=$!
	wait_for 60 ctl status || bail "$step: the gateway did not start"
	ctl submit --id "j$step" --count 1 --program "$P" --params '{"frames":2,"video":false}' >/dev/null
	wait "$GW_PID"
	check "$step: the gateway killed itself after the step (status 137)" test "$?" -eq 137
	[ "$step" != release ] || check "release: the result had committed" at_least 1
	[ "$step" != pid ] || check "pid: the killed game left a process running" \
		sh -c "kill -0 \$(cat '$STATE/left/jpid-1')"
	"$GATEWAY" -c "$conf" 2>>"$GW_LOG" &
	GW_PID=$!
	check "$step: the next gateway finishes the task" wait_for 120 at_least 1
	check "$step: exactly one result, succeeded" one_result "j$step"
	r=$(ctl results --raw | python3 -c 'import json,sys; print(*[json.loads(l)["attempt"] for l in sys.stdin])')
	l=$(awk -v t="j$step" '$1 == t { print $2 }' "$STATE/launches" | xargs)
	diag "$step: result attempt $r; launches of attempts: $l"
	case $step in
	claim)
		check "claim: the claimed attempt never ran; the next one did" test "$r $l" = "2 2" ;;
	pid)
		check "pid: attempt 1 ran, was interrupted, attempt 2 gave the result" test "$r $l" = "2 1 2"
		left=$(cat "$STATE/left/jpid-1" 2>/dev/null || echo 0)
		check "pid: what the killed game left running was stopped" \
			wait_for 30 sh -c "! kill -0 $left"
		check "pid: ... by the next gateway, from the pid in the claim" \
			grep -q 'stopped a game left running by a previous gateway' "$GW_LOG" ;;
	release)
		check "release: nothing ran again" test "$r $l" = "1 1" ;;
	esac
	check "$step: no claim left once the result is in" wait_for 30 test "$(claims_left "$step")" -eq 0
	gw_stop
	check "$step: the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
	[ "$tap_failed" -eq 0 ] || gw_dump_log
done
# Sleepers of attempts that ended normally went with their game's group.
for f in "$STATE"/left/*; do kill "$(cat "$f")" 2>/dev/null || true; done
tap_done
