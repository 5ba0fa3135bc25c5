#!/bin/bash
# paiactl lag --group on a real broker (tests/env/kafka.sh start): the
# group's lag from the broker alone, as kafka-consumer-groups --describe
# and Burrow give it:
#  1. with two gateways running: every partition of the tasks topic, each
#     owned by one of them (their client.id), lag 0 once all is done,
#     exit 0;
#  2. with every gateway stopped and tasks waiting: still every
#     partition, the group's committed offsets, lag > 0 with the age of
#     the oldest task waiting, no owner, STOP, exit 3; the table says so;
#     --max-lag-s turns an owned but old backlog into WARN (not tested
#     here: nothing is owned with every gateway down);
#  3. after a requeue (a record and a transaction marker in the tasks
#     topic) and everything done: lag 0, not 1 (the marker is no task).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-lag.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/a.log
PIDS=
for n in a b; do
	kafka_conf "$STATE/$n.conf" "$STATE/$n" lag 4 20
	sed -i "s/^instance_id = .*/instance_id = lag-$n/" "$STATE/$n.conf"
	sed -i "s/^bootstrap.servers = .*/&\nclient.id = paia-gateway-lag-$n/" "$STATE/$n.conf"
done
ctl() { "$PAIACTL" -c "$STATE/a.conf" "$@"; }
GROUP=lag-$run
start() {
	"$GATEWAY" -c "$STATE/$1.conf" 2>>"$STATE/$1.log" &
	echo $! > "$STATE/$1.pid"
	wait_for 60 "$PAIACTL" -c "$STATE/$1.conf" status >/dev/null || bail "gateway $1 did not start"
}
stop() { kill -TERM "$(cat "$STATE/$1.pid")"; wait "$(cat "$STATE/$1.pid")"; }
cleanup_gw() {
	for n in a b; do
		[ -e "$STATE/$n.pid" ] && kill -KILL "$(cat "$STATE/$n.pid")" 2>/dev/null
	done
	cleanup
}
trap cleanup_gw EXIT

# lagj: paiactl lag --group as JSON into $STATE/lag.json; sets rc.
lagj() { "$PAIACTL" -c "$STATE/a.conf" lag --group "$GROUP" --json > "$STATE/lag.json"; rc=$?; }
# judge EXPR: a Python expression over the LAG object v.
judge() { python3 -c 'import json, sys; v = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$STATE/lag.json" "$1"; }

ctl topics --create --partitions 4,1,1 >/dev/null || bail "cannot create topics at $KAFKA"
mkdir -p "$STATE/programs"
P=$(program fast.sh 'while read l; do echo STAY; done')

# --- 1. two gateways running --------------------------------------------------------
start a
start b
ctl submit --id run --count 12 --program "$P" --params '{"frames":2,"video":false}' >/dev/null ||
	bail "submit failed"
wait_for 120 at_least 12 || bail "fewer than 12 results"
# Once the group has settled: both members own partitions (their client.id).
owned() { lagj; judge 'v["group_state"] == "Stable" and v["members"] == 2 and len(v["partitions"]) == 4 and all(p["owner"] for p in v["partitions"]) and {p["owner"]["client_id"] for p in v["partitions"]} == {"paia-gateway-lag-a", "paia-gateway-lag-b"} and all(p["lag"] == 0 for p in v["partitions"])'; }
check "both running: every partition owned by one of the two (their client.id), lag 0 once done" \
	wait_for 60 owned
check "... exit 0" [ "$rc" -eq 0 ]
committed=$(python3 -c 'import json,sys; print(sum(p["committed"] for p in json.load(open(sys.argv[1]))["partitions"]))' "$STATE/lag.json")
diag "committed offsets add up to $committed"

# --- 2. every gateway down, tasks waiting ---------------------------------------------
stop a
stop b
ctl submit --id wait --count 8 --program "$P" >/dev/null || bail "submit failed"
lagj
diag "$(cat "$STATE/lag.json")"
check "all down: lag --group still answers, from the broker alone" judge 'v["source"] == "broker" and len(v["partitions"]) == 4'
check "... exit 3 (tasks wait and nobody runs them)" [ "$rc" -eq 3 ]
check "... the committed offsets are the group's (12 tasks)" judge 'sum(p["committed"] for p in v["partitions"]) == 12'
check "... 8 tasks waiting, the oldest's age known" \
	judge 'sum(p["lag"] for p in v["partitions"]) == 8 and all(p["lag_s"] >= 0 for p in v["partitions"])'
check "... no owner, STOP where tasks wait, OK elsewhere, a group without members" \
	judge 'all(p["owner"] is None for p in v["partitions"]) and all(p["status"] == ("STOP" if p["lag"] > 0 else "OK") for p in v["partitions"]) and v["members"] == 0 and v["group_state"] == "Empty"'
check "... ages of what was sampled" judge 'all(0 <= p["log_end_age_s"] < 60 and 0 <= p["committed_age_s"] < 60 for p in v["partitions"])'
"$PAIACTL" -c "$STATE/a.conf" lag --group "$GROUP" > "$STATE/lag.txt"
sed 's/^/# /' "$STATE/lag.txt"
check "the table: STOP, no owner, why" eval 'grep -q "^group $GROUP on topic .*: Empty, 0 members" "$STATE/lag.txt" &&
	grep -q " -  *STOP  *no " "$STATE/lag.txt" &&
	grep -q "^partition [0-9]: [0-9]* tasks\? waiting (the oldest for .*) and no member of group $GROUP owns it" "$STATE/lag.txt"'
"$PAIACTL" -c "$STATE/a.conf" lag --group no-such-group-$run --json > "$STATE/nogroup.json"
rc=$?
check "a group the broker does not know (a typo): Dead, nothing committed, the whole topic waiting, exit 3" \
	eval '[ "$rc" -eq 3 ] && python3 -c "
import json, sys
v = json.load(open(sys.argv[1]))
sys.exit(0 if v[\"group_state\"] == \"Dead\" and v[\"members\"] == 0 and all(p[\"committed\"] == -1 and p[\"lag\"] == p[\"log_end\"] for p in v[\"partitions\"]) else 1)" "$STATE/nogroup.json"' 

# --- 3. a requeue's transaction marker is no task -------------------------------------
start a
check "a gateway back runs the waiting tasks" wait_for 120 at_least 20
"$PAIACTL" -c "$STATE/a.conf" requeue wait-1 >/dev/null || bail "requeue failed"
check "the requeued attempt has its result" wait_for 60 sh -c "[ \$(\"$PAIACTL\" -c '$STATE/a.conf' results --raw | grep -c '\"task_id\":\"wait-1\",\"attempt\":2') -ge 1 ]"
stop a
idle() { lagj; judge 'all(p["lag"] == 0 for p in v["partitions"])'; }
check "all down again, all done: lag 0 everywhere, markers included, exit 0" eval 'wait_for 30 idle && [ "$rc" -eq 0 ]'
check "... while the log end is past the committed offset somewhere (the marker)" \
	judge 'any(p["log_end"] > p["committed"] for p in v["partitions"])'

tap_done
