#!/bin/bash
# The operator reads the logs of ten running games in turn (:logs ID):
# each shows its own lines as they come, the ninth and tenth too (a
# connection may stream 8 logs at once: the console stops the one it no
# longer shows, so the gateway holds one stream of it, one descriptor on
# a log.txt); a log shown again (even before its stop was answered)
# starts from its beginning and goes on; leaving the view keeps it.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

N=10
tui_state
REUSE_STATE=1 gw_start -o gateway.max_inflight=$((N + 1))
# Game i writes "ticker i says n" every 0.1 s until its gate opens (or 5
# minutes pass); its one frame waits for it as long.
for i in $(seq 1 $N); do
	prog=$(program "ticker-$i.sh" "n=0
while [ ! -e /workspace/input/gate ] && [ \$n -lt 3000 ]; do
	echo \"ticker $i says \$n\" >&2; sleep 0.1; n=\$((n+1))
done
exit 0")
	ctl submit --id "tick$i" --program "$prog" \
		--params '{"frames":1,"frame_timeout_ms":600000,"video":false}' >/dev/null ||
		bail "submit tick$i"
done
for i in $(seq 1 $N); do
	wait_for 60 task_is "tick$i" state running || bail "tick$i is not running"
done

# log_fds: the gateway's descriptors on the tasks' log.txt (one a stream of a local game).
log_fds() {
	local fd n=0
	for fd in /proc/"$GW_PID"/fd/*; do
		case "$(readlink "$fd" 2>/dev/null)" in "$STATE"/tasks/*/output/log.txt) n=$((n + 1)) ;; esac
	done
	echo "$n"
}
fds_are() { [ "$(log_fds)" = "$1" ]; }
# newest_tick SESSION I: the last "ticker I says n" on the screen (its n).
newest_tick() { screen "$1" | sed -n "s/^ticker $2 says \([0-9]*\).*/\1/p" | tail -n 1; }
# ticks_past SESSION I N: the screen shows ticker I past N.
ticks_past() { local n; n=$(newest_tick "$1" "$2"); [ -n "$n" ] && [ "$n" -gt "$3" ]; }

con_start g 100 30
for i in $(seq 1 $N); do
	keys g : "logs tick$i" Enter
	check "log $i of $N: the console shows tick$i's log" on_screen g "ticker $i says" 30
	check "... not the cap" eval "! screen g | grep -q 'follows 8 logs already'"
	check "... nor another game's lines" eval "! screen g | grep -v 'ticker $i says' | grep -q '^ticker '"
	check "... and the gateway streams it alone (one descriptor on a log.txt)" wait_for 30 fds_are 1
done
n=$(newest_tick g $N)
check "the last log goes on as its game writes" wait_for 30 ticks_past g $N "$n"

# Back to the first, away and back at once (the stop of its stream may
# still be on its way): its log from the start, going on.
keys g : "logs tick1" Enter : "logs tick2" Enter : "logs tick1" Enter
check "shown again: tick1's log" on_screen g "ticker 1 says" 30
keys g g
check "... from its beginning (g: the oldest line held)" on_screen g "[demo-game] start: task tick1" 30
keys g G
# The newest line once G is taken (before, the screen is still the top).
on_screen g "  following" 30
n=$(newest_tick g 1)
check "... and going on" wait_for 30 ticks_past g 1 "${n:-0}"
check "... one stream, no other game's lines" eval "fds_are 1 && ! screen g | grep -v 'ticker 1 says' | grep -q '^ticker '"

# Leaving the view keeps the stream: back, the newest lines are there.
keys g 2
check "another view: the log's stream stays (one descriptor)" fds_are 1
n=$(sed -n 's/^ticker 1 says \([0-9]*\).*/\1/p' "$STATE/tasks/tick1/output/log.txt" | tail -n 1)
keys g 6
check "back to the logs view: lines written meanwhile are there" wait_for 30 ticks_past g 1 "$n"

for i in $(seq 1 $N); do touch "$STATE/tasks/tick$i/input/gate"; done
check "the log shown ends with its game" on_screen g "ended: done" 60
check "... and the gateway holds no stream" wait_for 30 fds_are 0
keys g q
check "q quits, exit status 0" on_screen g "console-exited=0" 10

[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
