#!/bin/bash
# Requeue and cancel by keystrokes change the task's state (checked with
# paiactl); each asks first, naming the task, and no means no; the
# gateway's refusal is shown as it said it; --readonly has no actions.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

tui_scenario
HANG=$(program hang.sh 'sleep 300')
ctl submit --id long-1 --program "$HANG" --timeout 600 \
	--params '{"frames":100,"frame_timeout_ms":100000,"video":false}' >/dev/null || bail "submit long-1"
wait_for 30 task_is long-1 state running || bail "long-1 is not running"

con_start a 100 30
keys a 2
on_screen a long-1 >/dev/null || bail "the console does not show long-1"

# select ID: filter the tasks view down to one task (its row is then selected).
select_task() { keys a 2 / "$1" Enter; on_screen a "1 of" 10; }

# Requeue a finished task.
select_task demo-1
keys a r
check "r asks first, naming the task" on_screen a "Requeue task demo-1? [y/N]"
keys a n
check "n: not done" on_screen a "requeue demo-1: not done"
check "and the gateway was not asked (attempt 1)" task_is demo-1 attempt 1
keys a r y
check "y: the gateway's answer on the status line" on_screen a "requeued demo-1 as attempt 2"
check "paiactl sees attempt 2 of demo-1" wait_for 30 task_is demo-1 attempt 2
check "the console shows attempt 2 done" on_screen a "demo-1                 2" 30

# Requeue of a running task: refused by the gateway, its reason shown.
select_task long-1
keys a r y
check "requeue of a running task: the gateway's refusal shown" \
	on_screen a "requeue long-1 refused: task long-1 is running; cancel it first"

# Cancel: no, then yes.
keys a c
check "c asks first, naming the task" on_screen a "Cancel task long-1? [y/N]"
keys a Escape
check "esc: not done" on_screen a "cancel long-1: not done"
check "long-1 still runs" task_is long-1 state running
keys a c y
check "y: cancelling" on_screen a "cancelling long-1"
check "paiactl sees long-1 end as cancelled" wait_for 30 task_is long-1 status cancelled
check "in state failed" task_is long-1 state failed
check "the console shows it cancelled" on_screen a "cancelled" 30

# From the task view: open demo-2, requeue it there.
keys a : "task demo-2" Enter
on_screen a "Task demo-2" >/dev/null
keys a r
check "the task view asks too" on_screen a "Requeue task demo-2? [y/N]"
keys a y
check "and requeues" on_screen a "requeued demo-2 as attempt 2"
keys a q

# --readonly: no action, nothing asked, nothing sent.
con_start ro 100 30 -- --readonly
keys ro 2 / demo-3 Enter
on_screen ro "1 of" >/dev/null
keys ro r
check "--readonly: r is refused at once" on_screen ro "read-only console: no requeue"
keys ro c
check "--readonly: c is refused at once" on_screen ro "read-only console: no cancel"
keys ro : "requeue demo-3" Enter
check "--readonly: :requeue too" on_screen ro "read-only console: no requeue"
check "--readonly: the header says so" on_screen ro "read-only"
check "--readonly: demo-3 was not requeued" task_is demo-3 attempt 1
keys ro q

[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
