#!/bin/bash
# The gateway across a real OpenVPN tunnel (tests/env/openvpn.sh start;
# root): "cloud" runs the OpenVPN server, the S3 server (versitygw on
# 10.77.0.10) and the Webservice's stand-in (paiactl there, producing
# tasks and reading results read_committed through the tunnel); "local"
# runs Kafka (advertised on 10.66.0.10, which the cloud reaches through
# the tunnel) and the gateway, which runs its openvpn client itself
# ([vpn] mode = spawn) and uploads to the cloud's S3 through the tunnel.
#  1. connect: CONNECTED, the cloud's CIDR routed through tun0, S3's
#     endpoint reachable; paiactl vpn and /metrics show it;
#  2. VPN-routed submission: tasks produced from the cloud are run, their
#     uploads land in the cloud's S3, their results are read back from
#     the cloud;
#  3. the veth cut for 20 s (and until the games have ended) mid-run:
#     RECONNECTING then CONNECTED (the same openvpn), the finished games'
#     uploads wait (upload_wait) and resume, intake paused while down
#     (vpn.pause_intake_when_down): tasks submitted before and during the
#     cut all succeed, none lost, none duplicated;
#  4. the gateway killed -9 during a cut and started again (still cut):
#     the finished games' outputs are uploaded from disk once the tunnel
#     is back, not run again (the user program counts its launches), the
#     results say they were recovered.
# Kafka and S3 are this test's own (tests/env/kafka.sh, s3.sh with
# KAFKA_HOST and S3_HOST), inside the namespaces; ports there are private.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

NS_C=$VPN_NS_CLOUD
NS_L=$VPN_NS_LOCAL
KHOST=10.66.0.10 KPORT=9092
SHOST=10.77.0.10 SPORT=9100
run=$(date +%s)-$$
inl() { ip netns exec "$NS_L" "$@"; }
inc() { ip netns exec "$NS_C" "$@"; }
kafka_env() { inl env KAFKA_HOST=$KHOST KAFKA_PORT=$KPORT KAFKA_DIR="$W/kafka" \
	"$SRCDIR/tests/env/kafka.sh" "$@"; }
s3_env() { inc env S3_HOST=$SHOST S3_PORT=$SPORT S3_DIR="$W/s3" "$SRCDIR/tests/env/s3.sh" "$@"; }
gw_cleanup() {
	if [ -n "${GW_PID:-}" ] && kill -0 "$GW_PID" 2>/dev/null; then
		kill -KILL "$GW_PID" 2>/dev/null
		wait "$GW_PID" 2>/dev/null
	fi
	kafka_env stop >/dev/null 2>&1
	s3_env stop >/dev/null 2>&1
	[ "$tap_failed" -eq 0 ] || gw_dump_log
	vpn_cleanup
}
trap gw_cleanup EXIT

# The user program runs as runner.user (no sandbox: it counts its
# launches in a file of the test's); it reaches its folders by path.
chmod 711 "$W"
ST=$W/state
mkdir -m 711 "$ST" "$ST/tasks"
mkdir -p "$ST/programs"
: > "$W/launches"
chmod 666 "$W/launches"
GW_LOG=$W/gateway.log
# Built or fetched here, where the network is: the namespaces have none.
"$SRCDIR/tests/env/kafka.sh" install >/dev/null || bail "cannot install Kafka"
"$SRCDIR/tests/env/s3.sh" install >/dev/null || bail "cannot install versitygw"
kafka_env start >/dev/null || bail "Kafka did not start in $NS_L"
s3_env start >/dev/null || bail "S3 did not start in $NS_C"
eval "$(s3_env env | grep '^export S3_')"
( umask 077; printf '%s\n' "$S3_SECRET_KEY" > "$W/s3.secret" )
MPORT=19090
CONF=$W/gateway.conf
cat > "$CONF" <<CONF
[gateway]
state_dir = $ST
instance_id = vpn-gw
tasks_topic = vpn-$run.tasks
results_topic = vpn-$run.results
dlq_topic = vpn-$run.dlq
max_inflight = 4
batch_ms = 50
grace_s = 10
[kafka]
bootstrap.servers = $KHOST:$KPORT
group.id = vpn-$run
session.timeout.ms = 6000
[storage]
file_root = $ST
result_prefix = s3://$S3_BUCKET/vpn-$run
s3_endpoint = $S3_ENDPOINT
s3_region = $S3_REGION
s3_access_key = $S3_ACCESS_KEY
s3_secret_key_file = $W/s3.secret
retries = 2
backoff_ms = 200
backoff_max_ms = 1000
connect_timeout_s = 3
low_speed_s = 5
[runner]
command = $BUILDDIR/demo/paia-demo-game
sandbox = none
kill_grace_s = 1
[health]
listen = 127.0.0.1:$MPORT
[vpn]
mode = spawn
config = $VPN_CLIENT_CONF
auth_file = $VPN_AUTH_FILE
cidrs = $VPN_CLOUD_CIDR
endpoints = $SHOST:$SPORT
probe_interval_s = 1
probe_timeout_ms = 2000
connect_timeout_s = 90
backoff_min_ms = 500
backoff_max_ms = 2000
pause_intake_when_down = true
CONF
# The gateway's operators (the control socket needs no network), and the
# Webservice's stand-in in the cloud, through the tunnel.
ctl() { "$PAIACTL" -c "$CONF" "$@"; }
web() { inc "$PAIACTL" -c "$CONF" "$@"; }
gw_run() {
	echo "--- start $(date +%T.%N) $*" >> "$GW_LOG"
	# A simple command, not a function (which would run in a subshell of
	# its own): ip netns exec execs the gateway, so $! is the gateway.
	ip netns exec "$NS_L" "$GATEWAY" -c "$CONF" "$@" 2>>"$GW_LOG" &
	GW_PID=$!
	wait_for 60 ctl status || bail "gateway did not start"
}
vfield() { ctl vpn --json | python3 -c 'import json,sys; v=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
healthy() { [ "$(vfield 'v["healthy"]')" = True ]; }
# states PREFIX: "task state" of the gateway's tasks of that prefix.
states() { ctl tasks --json | python3 -c 'import json,sys
for t in json.load(sys.stdin)["tasks"]:
    if t["task_id"].startswith(sys.argv[1] + "-"): print(t["task_id"], t["state"])' "$1"; }
# settled PREFIX N: all N known, none running (waiting for storage or finished).
settled() {
	states "$1" > "$W/states"
	[ "$(wc -l < "$W/states")" -eq "$2" ] &&
		! grep -qvE ' (upload_wait|reporting|done|failed)$' "$W/states" &&
		grep -q ' upload_wait$' "$W/states"
}
running() { states "$1" | grep -qE ' (launching|running)$'; }
# results_ok PREFIX N: read from the cloud, through the tunnel (read_committed).
results_ok() {
	web results --raw --timeout 10 2>/dev/null | python3 -c '
import json, sys, collections
prefix, n = sys.argv[1], int(sys.argv[2])
rs = [r for r in map(json.loads, sys.stdin) if r["task_id"].startswith(prefix + "-")]
c = collections.Counter(r["task_id"] for r in rs)
ok = sum(1 for r in rs if r["status"] == "succeeded")
sys.exit(0 if len(c) == n and len(rs) == n and ok == n else 1)' "$1" "$2"
}
launched() { grep -c "^$1-" "$W/launches"; }
P=$(printf '#!/bin/sh\necho "$PAIA_TASK_ID $PAIA_ATTEMPT" >> %s\nwhile read l; do sleep 0.2; echo STAY; done\n' \
	"$W/launches" > "$ST/programs/counted.sh"; chmod 755 "$ST/programs/counted.sh"; echo "file://$ST/programs/counted.sh")
PARAMS='{"frames":8,"video":false}'

inl "$PAIACTL" -c "$CONF" topics --create --partitions 3,3,1 >/dev/null || bail "cannot create topics"

# --- 1. connect ----------------------------------------------------------------
gw_run
check "the gateway's tunnel: CONNECTED, routes and endpoint checked (healthy)" wait_for 90 healthy
check "...the cloud CIDR through tun0, S3 answering through it" \
	test "$(vfield '[(c["kind"], c["target"], c["result"], c["reason"] if c["kind"] == "route" else "") for c in v["checks"]]')" = \
	"[('route', '$VPN_CLOUD_CIDR', 'ok', 'via tun0'), ('endpoint', '$SHOST:$SPORT', 'ok', '')]"
check "...with the tunnel address $VPN_TUN_CLIENT on tun0, spawned by the gateway" \
	test "$(vfield 'v["state"], v["tun_ip"], v["tun_dev"], v["mode"]')" = "('CONNECTED', '$VPN_TUN_CLIENT', 'tun0', 'spawn')"
out=$(ctl vpn); rc=$?
check "paiactl vpn: exit 0, CONNECTED and healthy" \
	sh -c '[ "$0" -eq 0 ] && printf "%s" "$1" | grep -q "^state .*CONNECTED since .*, healthy$"' "$rc" "$out"
OVPN_PID=$(vfield 'v["pid"]')

# --- 2. VPN-routed submission ----------------------------------------------------------
web submit --id v --count 4 --program "$P" --params "$PARAMS" >/dev/null || bail "submit from the cloud failed"
check "tasks produced from the cloud: results read back from the cloud, all succeeded" \
	wait_for 120 results_ok v 4
check "their uploads are in the cloud's S3" \
	test "$(find "$W/s3/data/$S3_BUCKET/vpn-$run" -name log.txt -path '*/v-*' | wc -l)" -eq 4
metrics_ok() {
	inl curl -s "http://127.0.0.1:$MPORT/metrics" > "$W/metrics"
	grep -q '^paia_vpn_state{state="CONNECTED"} 1$' "$W/metrics" &&
		grep -q '^paia_vpn_healthy 1$' "$W/metrics" &&
		grep -qE '^paia_vpn_bytes_total[{]direction="out"[}] [1-9]' "$W/metrics" &&
		[ "$(grep -c '^paia_vpn_check_ok{.*} 1$' "$W/metrics")" -eq 2 ]
}
check "/metrics: CONNECTED, healthy, bytes through the tunnel, both checks passing" \
	wait_for 30 metrics_ok
[ "$tap_failed" -eq 0 ] || grep '^paia_vpn' "$W/metrics" | sed 's/^/# /'

# --- 3. the link cut mid-run ---------------------------------------------------------
web submit --id cut --count 8 --program "$P" --params "$PARAMS" >/dev/null || bail "submit failed"
wait_for 60 running cut || bail "no cut-* game running"
"$VPNENV" link down
t_down=$(date +%s)
diag "link down with $(states cut | grep -cE ' (launching|running)$') games running"
reconnecting() { [ "$(vfield 'v["state"]')" = RECONNECTING ]; }
check "RECONNECTING (openvpn noticed the dead link)" wait_for 30 reconnecting
paused() { [ "$(vfield 'v["intake_paused"]')" = True ]; }
check "intake paused while the tunnel is down (vpn.pause_intake_when_down)" wait_for 30 paused
# Tasks that arrive during the cut (produced locally: the cloud cannot reach Kafka now).
inl "$PAIACTL" -c "$CONF" submit --id during --count 3 --program "$P" --params "$PARAMS" >/dev/null ||
	bail "local submit failed"
check "the cut's games end; their uploads wait for the cloud" wait_for 120 settled cut 8
while [ $(( $(date +%s) - t_down )) -lt 20 ]; do sleep 1; done
check "tasks submitted during the cut were not taken while it lasted (intake paused)" \
	test -z "$(states during)"
"$VPNENV" link up
connected_again() { [ "$(vfield 'v["state"], v["healthy"]')" = "('CONNECTED', True)" ]; }
check "CONNECTED and healthy again once the link is back" wait_for 90 connected_again
check "...the same openvpn (pid $OVPN_PID), not restarted by the supervisor" \
	test "$(vfield 'v["pid"], v["restarts"]')" = "($OVPN_PID, 0)"
check "every task submitted before the cut succeeded, once (read from the cloud)" \
	wait_for 120 results_ok cut 8
check "...and every task submitted during it" wait_for 120 results_ok during 3
check "the waiting uploads resumed when the tunnel came back" \
	grep -q 'storage answers again: waiting uploads resume' "$GW_LOG"
check "no game of them ran twice" \
	test "$(grep -E '^(cut|during)-' "$W/launches" | sort | uniq -d | wc -l)" -eq 0

# --- 4. kill -9 during a cut, restart --------------------------------------------------
web submit --id kill --count 6 --program "$P" --params "$PARAMS" >/dev/null || bail "submit failed"
wait_for 60 running kill || bail "no kill-* game running"
"$VPNENV" link down
t_down=$(date +%s)
check "the games end while the link is down; their uploads wait" wait_for 120 settled kill 6
waiting=$(states kill | awk '$2 == "upload_wait" {print $1}' | sort)
nw=$(echo "$waiting" | wc -w)
kill -KILL "$GW_PID"; wait "$GW_PID" 2>/dev/null
diag "killed -9 with $nw kill-* tasks waiting to upload"
openvpn_gone() { [ -z "$(openvpn_pids)" ]; }
check "its openvpn went with it" wait_for 30 openvpn_gone
# Started again while still cut; intake goes on (the finished games are
# redelivered and found on disk).
gw_run -o vpn.pause_intake_when_down=false
recovered() { [ "$(grep -c 'finished game found on disk: uploading its outputs' "$GW_LOG")" -ge "$nw" ]; }
check "the restarted gateway finds the $nw finished games on disk" wait_for 120 recovered
while [ $(( $(date +%s) - t_down )) -lt 20 ]; do sleep 1; done
"$VPNENV" link up
check "the new openvpn connects once the link is back" wait_for 90 connected_again
check "every kill-* task succeeded, once (read from the cloud)" wait_for 120 results_ok kill 6
web results --raw --timeout 10 > "$W/results.jsonl"
check "the $nw recovered ones say so, attempt 1" python3 - "$W/results.jsonl" $waiting <<'PY'
import json, sys
rs = {r["task_id"]: r for r in map(json.loads, open(sys.argv[1]))}
want = "outputs of the finished game uploaded after a gateway restart"
bad = [t for t in sys.argv[2:] if rs[t].get("recovered") != want or rs[t]["attempt"] != 1]
print(f"# recovered: {len(sys.argv) - 2 - len(bad)} of {len(sys.argv) - 2}; not: {bad}")
sys.exit(0 if not bad and len(sys.argv) > 2 else 1)
PY
launches_once() {
	for t in $waiting; do [ "$(grep -c "^$t " "$W/launches")" -eq 1 ] || return 1; done
}
check "...their games launched once (counted by the program: $(grep -c '^kill-' "$W/launches") kill-* launches)" launches_once
check "their uploads are in the cloud's S3" \
	test "$(find "$W/s3/data/$S3_BUCKET/vpn-$run" -name log.txt -path '*/kill-*' | wc -l)" -eq 6
check "no (task, attempt) launched twice in the whole run" \
	test "$(sort "$W/launches" | uniq -d | wc -l)" -eq 0
check "nothing lost or duplicated: one result per task of the run" python3 - "$W/results.jsonl" <<'PY'
import collections, json, sys
c = collections.Counter(json.loads(l)["task_id"] for l in open(sys.argv[1]))
want = {f"v-{i}" for i in range(1, 5)} | {f"cut-{i}" for i in range(1, 9)} | \
    {f"during-{i}" for i in range(1, 4)} | {f"kill-{i}" for i in range(1, 7)}
print(f"# results={sum(c.values())} tasks={len(c)} missing={sorted(want - set(c))} duplicated={[k for k, v in c.items() if v > 1]}")
sys.exit(0 if set(c) == want and all(v == 1 for v in c.values()) else 1)
PY
kill -TERM "$GW_PID"
wait "$GW_PID"
rc=$?
check "SIGTERM: the gateway exits 0 (rc=$rc)" test "$rc" -eq 0
check "...and its openvpn with it" wait_for 30 openvpn_gone
GW_PID=
tap_done
