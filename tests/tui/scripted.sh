#!/bin/bash
# Exact screens against a scripted gateway (tests/tui/console-server:
# proto/'s encoders, fixed times and values) with the console's clock
# pinned (PAIA_CONSOLE_NOW): ages, durations and clock times are drawn as
# they are, not normalised. The Tasks view, a running task's timeline,
# the GPUs view (a node stale with its reason), pods, the VPN, videos
# and a task's log at 80x24 and 200x50.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

SERVER=${SERVER:-$BUILDDIR/tests/tui/console-server}
T0=1796000000000
SOCK=$TMPD/scripted.sock
"$SERVER" -S "$SOCK" -n 12 -r 0 -g 2 --now "$T0" 2>"$TMPD/server.err" &
SPID=$!
scripted_stop() { kill "$SPID" 2>/dev/null; tui_cleanup; }
trap scripted_stop EXIT
wait_for 20 test -S "$SOCK" || bail "the scripted gateway did not start: $(cat "$TMPD/server.err")"

for size in 80x24 200x50; do
	s=x$size
	CON_TARGET="-S $SOCK" con_start "$s" "${size%x*}" "${size#*x}" \
		PAIA_CONSOLE_TEST_TIMES=0 PAIA_CONSOLE_NOW=$((T0 + 5000))
	keys "$s" 2
	check "$size: tasks, exact ages and durations" golden "$s" "scripted-tasks-$size"
	keys "$s" : "task bench-000003" Enter
	check "$size: a running task's timeline, to the millisecond" golden "$s" "scripted-task-$size"
	keys "$s" 4
	check "$size: GPUs: bars, the task on each, a stale node and why" golden "$s" "scripted-gpus-$size"
	keys "$s" Enter
	check "$size: enter on a GPU opens the task on it" on_screen "$s" "Task bench-000000"
	check "$size: the task names the GPU it ran on" \
		on_screen "$s" "gpus         gpu-a GPU 0 NVIDIA L40S, peak 12000 MiB, mean 60%"
	keys "$s" 4 Down Down Enter
	check "$size: down twice: the stale node's first card, its task" on_screen "$s" "Task bench-000001"
	keys "$s" 3
	check "$size: pods: kubectl's columns, one creating, one crash-looping" \
		golden "$s" "scripted-pods-$size"
	keys "$s" 5
	check "$size: the VPN: its state, traffic and checks" golden "$s" "scripted-vpn-$size"
	keys "$s" 7
	check "$size: videos of the done tasks" golden "$s" "scripted-videos-$size"
	keys "$s" : "task bench-000008" Enter 6
	check "$size: a done task's log, to its end" golden "$s" "scripted-logs-$size"
	keys "$s" : "task bench-000003" Enter 6
	check "$size: a running task's log, followed" \
		on_screen "$s" "3 lines  following"
	keys "$s" q
done

# A gateway from before pods, vpn, videos and logs: each view says the
# gateway does not offer it, in the gateway's words; the header n/a.
OLD=$TMPD/old.sock
"$SERVER" -S "$OLD" -n 12 -r 0 --now "$T0" --old 2>"$TMPD/old.err" &
OPID=$!
scripted_stop() { kill "$SPID" "$OPID" 2>/dev/null; tui_cleanup; }
wait_for 20 test -S "$OLD" || bail "the old gateway did not start: $(cat "$TMPD/old.err")"
CON_TARGET="-S $OLD" con_start old 100 24 PAIA_CONSOLE_TEST_TIMES=0 PAIA_CONSOLE_NOW=$((T0 + 5000))
keys old 3
check "old gateway: pods not offered, its words" \
	on_screen old "the gateway does not offer pods: unknown command 'pods'"
check "old gateway: the header's vpn is n/a" on_screen old "vpn n/a"
keys old 5
check "old gateway: the VPN not offered" on_screen old "does not offer the VPN's state: unknown command"
keys old 7
check "old gateway: videos not offered" on_screen old "does not offer result videos: unknown command"
keys old : "task bench-000008" Enter 6
check "old gateway: logs not offered" on_screen old "does not offer task logs: unknown command 'logs'"
keys old q

# A gateway whose informer lists after the console first asked pods:
# that answer is empty (not listed yet), then a pods event says the pods
# were listed. The console asks again and shows them.
LISTED=$TMPD/listed.sock
"$SERVER" -S "$LISTED" -n 12 -r 0 --now "$T0" --listed 2>"$TMPD/listed.err" &
LPID=$!
scripted_stop() { kill "$SPID" "$OPID" "$LPID" 2>/dev/null; tui_cleanup; }
wait_for 20 test -S "$LISTED" || bail "the listing gateway did not start: $(cat "$TMPD/listed.err")"
CON_TARGET="-S $LISTED" con_start listed 100 24 PAIA_CONSOLE_TEST_TIMES=0 PAIA_CONSOLE_NOW=$((T0 + 5000))
keys listed 3
check "pods listed after the first answer: the console asks again on the pods event" \
	on_screen listed "paia-bench-000002-1"
keys listed q

# A gateway from before logs' stop: it refuses the field, so the streams
# of the logs no longer shown go on (here they never end). The console
# asks to stop once, learns, asks no other stop, shows every log up to
# the gateway's cap of 8 streams, and then says why no more, never asking
# the gateway a ninth.
NOSTOP=$TMPD/nostop.sock
"$SERVER" -S "$NOSTOP" -n 12 -r 0 --now "$T0" --no-stop 2>"$TMPD/nostop.err" &
NPID=$!
scripted_stop() { kill "$SPID" "$OPID" "$LPID" "$NPID" 2>/dev/null; tui_cleanup; }
wait_for 20 test -S "$NOSTOP" || bail "the no-stop gateway did not start: $(cat "$TMPD/nostop.err")"
CON_TARGET="-S $NOSTOP" con_start nostop 100 24 PAIA_CONSOLE_TEST_TIMES=0 PAIA_CONSOLE_NOW=$((T0 + 5000))
for i in 0 1 2 3 4 5 6 7; do
	keys nostop : "logs bench-00000$i" Enter
	check "no stop: log $((i + 1)) of 8 shown" on_screen nostop "start: task bench-00000$i"
	[ "$i" != 1 ] || check "... the first one asked to stop, refused" \
		wait_for 10 grep -qx 'stop bench-000000 refused' "$TMPD/nostop.err"
done
keys nostop : "logs bench-000009" Enter
check "no stop: a ninth log is not asked: the console says why" \
	on_screen nostop "follows 8 logs already (the gateway's limit; this gateway cannot stop them)"
check "... nor a ninth stream asked of the gateway" eval "! screen nostop | grep -q 'the most one may'"
keys nostop q
check "... q quits, exit status 0" on_screen nostop "console-exited=0" 10
wait_for 10 grep -qx 'connection closed' "$TMPD/nostop.err" || bail "the console's connection did not end"
check "... and no other stop was asked on that connection" \
	test "$(grep -c '^stop ' "$TMPD/nostop.err")" = 1

[ "$tap_failed" -eq 0 ] || sed 's/^/# server: /' "$TMPD/server.err"
tap_done
