#!/bin/bash
# A revoke while results wait for their transaction, on a real broker
# (tests/env/kafka.sh start): gateway A finishes a batch of tasks but its
# transaction is held back (PAIA_TEST_COMMIT_HOLD, a test-only switch)
# past gateway.revoke_commit_timeout_ms; gateway B joins the group, the
# partitions are shared out again, and B (or A, for partitions it gets
# back) runs those tasks again. When A's held transaction is let go, the
# results of partitions A gave up in between must be dropped, not
# committed under the group's new generation (the broker would take
# them): every task ends with exactly one result, and no attempt runs
# twice (the two gateways share one launch journal, so a task run again
# runs as its next attempt). The chaos test found this one in four runs;
# here it happens every time.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

N=24
STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-revoke.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/a.log
HOLD=$STATE/hold
for n in a b; do
	kafka_conf "$STATE/$n.conf" "$STATE/$n" revoke 8 20
	sed -i "s/^instance_id = .*/instance_id = revoke-$n/" "$STATE/$n.conf"
	cat >> "$STATE/$n.conf" <<CONF
journal_dir = $STATE/launched
sandbox = none
[gateway]
revoke_commit_timeout_ms = 500
CONF
done
chmod 711 "$STATE"
for n in a b; do mkdir -m 711 "$STATE/$n/tasks"; done
ctl() { "$PAIACTL" -c "$STATE/a.conf" "$@"; }
ctl topics --create --partitions 6,1,1 >/dev/null || bail "cannot create topics at $KAFKA"
mkdir -p "$STATE/programs"
: > "$STATE/launches"
chmod 666 "$STATE/launches"
# Every launch of the user program appends "task attempt" (the demo game runs it).
P=$(program launch.sh "echo \"\$PAIA_TASK_ID \$PAIA_ATTEMPT\" >> $STATE/launches; while read l; do echo STAY; done")

touch "$HOLD"
PAIA_TEST_COMMIT_HOLD=$HOLD "$GATEWAY" -c "$STATE/a.conf" 2>>"$GW_LOG" &
GW_PID=$!
wait_for 60 ctl status || bail "gateway A did not start"
ctl submit --id rv --count "$N" --program "$P" --params '{"frames":2,"video":false}' >/dev/null
reporting() { [ "$(ctl status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["reporting"])')" -ge "$1" ]; }
check "A finished the $N games; their results wait for the held transaction" wait_for 120 reporting "$N"
check "nothing committed yet" test "$(distinct)" -eq 0

"$GATEWAY" -c "$STATE/b.conf" 2>"$STATE/b.log" &
B_PID=$!
check "the group shares the partitions out again: A revokes while its results wait" \
	wait_for 60 grep -q 'revoke: transactions still open after the timeout' "$GW_LOG"
check "B runs tasks of the partitions it got" \
	wait_for 120 grep -q 'task reported' "$STATE/b.log"
rm -f "$HOLD"
check "every task has a result" wait_for 180 at_least "$N"
check "A dropped the results of the partitions it gave up" \
	wait_for 30 grep -q 'task result dropped: its partition was given up' "$GW_LOG"
check "exactly once: one result per task" exactly_once rv "$N"
check "no attempt of a task launched twice" \
	test -z "$(sort "$STATE/launches" | uniq -d)"
diag "launches: $(wc -l < "$STATE/launches") for $N tasks"
kill -TERM "$B_PID" 2>/dev/null
wait "$B_PID"
gw_stop
check "A stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || { gw_dump_log; tail -n 30 "$STATE/b.log" | sed 's/^/# b: /'; }
tap_done
