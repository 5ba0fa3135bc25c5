#!/bin/bash
# Faults on a real broker (tests/env/kafka.sh start):
#  1. the broker restarts while tasks run: commits wait and resume, every
#     task still gets exactly one result;
#  1b. the broker is unreachable (frozen) while results wait for their
#     transaction: the commit is retried and goes through once it is back;
#  2. a second gateway with the same instance id fences the first (a
#     zombie): the zombie stops with exit 1 naming its transactional id,
#     and nothing is reported twice.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

N=40
STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-faults.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/gateway.log
conf=$STATE/a.conf
kafka_conf "$conf" "$STATE/a" faults 4 20
ctl() { "$PAIACTL" -c "$conf" "$@"; }
kafka_env_same
ctl topics --create --partitions 6,3,1 >/dev/null || bail "cannot create topics at $KAFKA"
"$GATEWAY" -c "$conf" 2>>"$GW_LOG" &
GW_PID=$!
wait_for 60 ctl status || bail "gateway did not start"
mkdir -p "$STATE/programs"
P=$(program slow.sh 'while read l; do sleep 0.2; echo STAY; done')

# --- 1. broker restart mid-run --------------------------------------------------
ctl submit --id br --count "$N" --program "$P" --params '{"frames":8,"video":false}' >/dev/null
wait_for 120 at_least 4 || bail "no results before the broker restart"
diag "restarting the broker with $(distinct) of $N results committed"
"$SRCDIR/tests/env/kafka.sh" restart >/dev/null || bail "broker restart failed"
diag "broker back with $(distinct) of $N results committed"
check "all $N tasks have a result after a broker restart" wait_for 240 at_least "$N"
check "exactly once across the broker restart" exactly_once br "$N"
check "the gateway survived the broker restart" kill -0 "$GW_PID"

# --- 1b. broker unreachable at commit ------------------------------------------------
ctl submit --id fz --count 16 --program "$P" --params '{"frames":4,"video":false}' >/dev/null
wait_for 60 sh -c "grep -q 'game started.*task=fz-' '$GW_LOG'" || bail "no fz- game started"
"$SRCDIR/tests/env/kafka.sh" freeze || bail "cannot freeze the broker"
diag "broker frozen for 15 s"
sleep 15	# the fault itself: the broker stays unreachable this long
"$SRCDIR/tests/env/kafka.sh" thaw
check "all 16 tasks have a result after the broker came back" wait_for 180 sh -c "[ \$($PAIACTL -c $conf results --raw | grep -c '\"task_id\":\"fz-') -ge 16 ]"
check "exactly once across the unreachable broker" exactly_once fz 16
check "the gateway survived it" kill -0 "$GW_PID"

# --- 2. a zombie is fenced ---------------------------------------------------------
kafka_conf "$STATE/b.conf" "$STATE/b" faults 4 20
ctl submit --id zz --count 12 --program "$P" --params '{"frames":10,"video":false}' >/dev/null
wait_for 60 sh -c "grep -q 'task=zz-' '$GW_LOG'"
"$GATEWAY" -c "$STATE/b.conf" 2>"$STATE/b.log" &
B_PID=$!
wait "$GW_PID"; rc=$?
check "the fenced gateway exits 1 (rc=$rc)" test "$rc" -eq 1
check "it names its transactional id" grep -q 'faults-.*-faults-1\|transactional.id faults-' "$GW_LOG"
GW_PID=$B_PID
GW_LOG=$STATE/b.log
conf=$STATE/b.conf
check "the new instance finishes the zombie's tasks" wait_for 240 sh -c "[ \$($PAIACTL -c $conf results --raw | grep -c '\"task_id\":\"zz-') -ge 12 ]"
check "exactly once across the fencing" exactly_once zz 12
gw_stop
check "the new instance stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || { GW_LOG=$STATE/gateway.log; gw_dump_log; GW_LOG=$STATE/b.log; gw_dump_log; }
tap_done
