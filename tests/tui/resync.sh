#!/bin/bash
# The gateway goes away under the console: "disconnected, retrying",
# the last screen kept; it comes back (a new process on the same state
# folder and socket): the console resyncs by itself (status, tasks,
# subscribe again) and shows what the new gateway holds and does.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

tui_scenario
con_start r 100 30
keys r 2
check "the console shows the tasks" on_screen r "demo-3"

kill -KILL "$GW_PID"
wait "$GW_PID" 2>/dev/null
check "gateway killed: disconnected, retrying" on_screen r "local disconnected, retrying" 15
check "why, over the view" on_screen r "cannot reach the gateway: cannot connect to" 15
check "the last tasks stay on screen, marked stale (the banner leaves the count)" \
	on_screen r "4 of 4 tasks (stale)" 10

REUSE_STATE=1 gw_start -o gateway.instance_id=golden
check "gateway back: connected again" on_screen r "│ local │" 30
ctl submit --id after-1 --program "file://$STATE/programs/sample-ai.py" \
	--params '{"frames":3,"video":false}' >/dev/null || bail "submit after-1"
check "resynced: a task of the new gateway shows up" on_screen r "after-1" 30
check "and its end comes through the new subscription" on_screen r "succeeded" 60
# The new gateway forgot the old tasks (history is in memory): relisted, they go.
check "relisted: the old gateway's tasks are gone" eval '! screen r | grep -q demo-3'
keys r q
check "q quits, exit status 0" on_screen r "console-exited=0" 10

[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
