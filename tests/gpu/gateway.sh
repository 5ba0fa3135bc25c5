#!/bin/bash
# tests/gpu/gateway.sh: the gateway with [gpu] nodes (real sshd nodes of
# tests/env/sshd.sh, the stand-in nvidia-smi printing real GPUs' outputs):
#  1. paiactl gpus --json: the fixtures' GPUs, their values (a value
#     nvidia-smi did not give is null with its reason) and processes with
#     their pods; the table; a gpu event per round on the subscribe stream;
#  2. /metrics: dcgm-exporter's series, names and labels;
#  3. a node killed goes stale with its reason while the others keep
#     updating: its last values stay in the view, marked, and leave
#     /metrics; a node printing garbage is stale naming the line; both
#     come back;
#  4. bad [gpu] settings are refused naming the key. TAP.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
NODES="n1=$SSHD_USER@127.0.0.1:$SSHD_PORT n2=127.0.0.1:$((SSHD_PORT + 1)) n3=127.0.0.1:$((SSHD_PORT + 2))"
env_sh fixture 2 h100-mig
env_sh fixture 3 dgx8
gw_start -o "gpu.nodes=$NODES" -o "gpu.user=$SSHD_USER" -o "gpu.key_file=$SSHD_KEY" \
	-o "gpu.known_hosts=$SSHD_KNOWN_HOSTS" -o "gpu.proc_root=$SSHD_PROC" -o gpu.interval_s=1 \
	-o gpu.timeout_ms=900 -o "health.listen=127.0.0.1:$PORT"

gpus() { ctl gpus --json; }
# node_is NAME STATE: the node is in that state (ok, stale, pending).
node_is() { [ "$(jget "$(gpus)" "[n['state'] for n in r['nodes'] if n['node'] == '$1']")" = "['$2']" ]; }
metrics() { curl -sf "http://127.0.0.1:$PORT/metrics"; }

# --- 1. the view --------------------------------------------------------------------
check "the three nodes answer" wait_for 60 sh -c \
	"$PAIACTL -d '$STATE' gpus --json | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if [n[\"state\"] for n in r[\"nodes\"]] == [\"ok\"] * 3 else 1)'"
g=$(gpus)
check "enabled, every 1000 ms, nodes in the order of gpu.nodes" \
	[ "$(jget "$g" '(r["enabled"], r["interval_ms"], [n["node"] for n in r["nodes"]])')" = "(True, 1000, ['n1', 'n2', 'n3'])" ]
check "n1: the RTX 4080 SUPER as nvidia-smi printed it" \
	[ "$(jget "$g" '[(c["index"], c["name"], c["util"], c["mem_util"], c["mem_used_mib"], c["mem_total_mib"], c["temp_c"], c["power_w"], c["power_limit_w"], c["sm_clock_mhz"], c["pstate"]) for c in r["nodes"][0]["gpus"]]')" = \
	"[(0, 'NVIDIA GeForce RTX 4080 SUPER', 7, 2, 1474, 16376, 46, 84.24, 320, 2805, 'P2')]" ]
check "n1: its processes with their pods (from the fixture /proc), none a task of this gateway" \
	[ "$(jget "$g" 'sorted((p["pid"], p["used_mib"], p["pod_uid"], p["task_id"]) for p in r["nodes"][0]["gpus"][0]["processes"])')" = \
	"[(2165, 25, None, None), (5021, 360, '6f1c2b3a-9d4e-4c6b-8a55-2f0e1d7c9b11', None), (5022, 503, '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', None)]" ]
check "n2: the H100 in MIG mode: utilisation null, 'n/a' said why (not 0)" \
	[ "$(jget "$g" '(r["nodes"][1]["gpus"][0]["util"], r["nodes"][1]["gpus"][0]["unavailable"]["util"])')" = "(None, 'n/a')" ]
check "n3: eight GPUs, one process each" \
	[ "$(jget "$g" '[len(c["processes"]) for c in r["nodes"][2]["gpus"]]')" = "[1, 1, 1, 1, 1, 1, 1, 1]" ]
check "the report's age and the node's host and port are shown" \
	[ "$(jget "$g" '(0 <= r["nodes"][0]["age_ms"] < 30000, r["nodes"][0]["host"], r["nodes"][1]["port"], r["nodes"][0]["source"])')" = \
	"(True, '127.0.0.1', $((SSHD_PORT + 1)), 'config')" ]
t=$(ctl gpus)
printf '%s\n' "$t" | head -4 | sed 's/^/# /'
check "paiactl gpus: a table NODE GPU NAME UTIL MEM TEMP POWER TASK" \
	sh -c "printf '%s\n' \"\$1\" | head -1 | grep -Eq '^NODE +GPU +NAME +UTIL +MEM +TEMP +POWER +TASK'" _ "$t"
check "... a row per card: n1's values" \
	sh -c "printf '%s\n' \"\$1\" | grep -Eq '^n1 +0 +NVIDIA GeForce RTX 4080 SUPER +7% +1474/16376MiB +46C +84/320W +\(3 other processes\)'" _ "$t"
check "... 1 + 1 + 8 rows" test "$(printf '%s\n' "$t" | grep -Ec '^n[123] ')" -eq 10
ev=$(timeout 30 "$PAIACTL" -d "$STATE" watch --count 12 | grep '"event":"gpu"' | head -1)
check "a gpu event on the subscribe stream carries a node's view" \
	[ "$(jget "${ev:-{\}}" 'r["gpu"]["node"] in ("n1", "n2", "n3") and r["gpu"]["state"] == "ok" and len(r["gpu"]["gpus"]) > 0')" = True ]

# --- 2. /metrics ----------------------------------------------------------------------
m=$(metrics)
check "DCGM_FI_DEV_GPU_UTIL with dcgm-exporter's labels" contains "$m" \
	"DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-00000000-0000-0000-0000-000000000000\",device=\"nvidia0\",modelName=\"NVIDIA GeForce RTX 4080 SUPER\",Hostname=\"n1\",container=\"\",namespace=\"\",pod=\"\"} 7"
check "DCGM_FI_DEV_FB_USED, _GPU_TEMP, _POWER_USAGE of n1 (MiB, C, W)" sh -c \
	"printf '%s\n' \"\$1\" | grep -E '^DCGM_FI_DEV_(FB_USED|GPU_TEMP|POWER_USAGE)\{.*Hostname=\"n1\"' | sed 's/.* //' | tr '\n' ' ' | grep -qx '1474 46 84.24 '" _ "$m"
check "one FB_USED series per card (10)" test "$(printf '%s\n' "$m" | grep -c '^DCGM_FI_DEV_FB_USED{')" -eq 10
check "no utilisation series for the MIG H100 (n/a is left out, not 0)" \
	sh -c "! printf '%s\n' \"\$1\" | grep -q '^DCGM_FI_DEV_GPU_UTIL{.*Hostname=\"n2\"'" _ "$m"
check "# TYPE DCGM_FI_DEV_GPU_TEMP gauge" contains "$m" "# TYPE DCGM_FI_DEV_GPU_TEMP gauge"
check "paia_gpu_node_up 1 for each node" test "$(printf '%s\n' "$m" | grep -c '^paia_gpu_node_up{node="n[123]"} 1$')" -eq 3

# --- 3. a node killed, a node printing garbage -------------------------------------------
ok1=$(jget "$(gpus)" 'r["nodes"][0]["rounds_ok"]')
env_sh kill 2
env_sh mode 3 garbage
check "the killed node goes stale" wait_for 30 node_is n2 stale
check "the garbage node goes stale" wait_for 30 node_is n3 stale
g=$(gpus)
diag "n2: $(jget "$g" 'r["nodes"][1]["stale"]')" "n3: $(jget "$g" 'r["nodes"][2]["stale"]')"
check "n2's reason names the node and the connection" \
	[ "$(jget "$g" '("127.0.0.1:%d" % '"$((SSHD_PORT + 1))"' in r["nodes"][1]["stale"], r["nodes"][1]["rounds_failed"] > 0)')" = "(True, True)" ]
check "n3's reason names the line nvidia-smi's output broke on" \
	[ "$(jget "$g" '"line " in r["nodes"][2]["stale"]')" = True ]
check "the stale nodes keep their last values" \
	[ "$(jget "$g" '(r["nodes"][1]["gpus"][0]["name"], len(r["nodes"][2]["gpus"]))')" = "('NVIDIA H100 80GB HBM3', 8)" ]
sleep_rounds() { [ "$(jget "$(gpus)" 'r["nodes"][0]["rounds_ok"]')" -ge $((ok1 + 3)) ]; }
check "n1 keeps updating meanwhile" wait_for 30 sleep_rounds
g=$(gpus)
check "... its report is fresh, n2's ages" \
	[ "$(jget "$g" 'r["nodes"][0]["age_ms"] < r["nodes"][1]["age_ms"] and r["nodes"][0]["state"] == "ok"')" = True ]
t=$(ctl gpus)
check "paiactl gpus marks the stale nodes and says why" sh -c \
	"printf '%s\n' \"\$1\" | grep -Eq '^n2 \(stale, [0-9.]+[a-z]+\) +0 +NVIDIA H100' &&
	 printf '%s\n' \"\$1\" | grep -q '^n2: stale: ssh .*127.0.0.1:$((SSHD_PORT + 1))'" _ "$t"
m=$(metrics)
check "/metrics leaves the stale nodes' cards out" \
	sh -c "! printf '%s\n' \"\$1\" | grep -Eq '^DCGM_.*Hostname=\"n[23]\"'" _ "$m"
check "... and says they are down" \
	[ "$(printf '%s\n' "$m" | grep -E '^paia_gpu_node_up' | tr '\n' ' ')" = \
	'paia_gpu_node_up{node="n1"} 1 paia_gpu_node_up{node="n2"} 0 paia_gpu_node_up{node="n3"} 0 ' ]
env_sh resume 2
env_sh mode 3 normal
both_ok() { node_is n2 ok && node_is n3 ok; }
check "both answer again" wait_for 60 both_ok

# --- 4. bad settings ----------------------------------------------------------------------
cfg() { "$GATEWAY" --embedded --state-dir "$STATE/cfg" --check-config "$@" 2>&1; }
out=$(cfg -o gpu.nodes=127.0.0.1:$SSHD_PORT); rc=$?
check "nodes without gpu.known_hosts: refused, naming it" fails_with "$rc" "$out" "gpu.known_hosts is not set"
out=$(cfg -o gpu.known_hosts=/k -o "gpu.nodes=a=h:99999"); rc=$?
check "a port out of range: refused, naming the entry" fails_with "$rc" "$out" "'a=h:99999': the port must be"
out=$(cfg -o gpu.known_hosts=/k -o "gpu.nodes=a/b=h"); rc=$?
check "a node name that is not a name: refused" fails_with "$rc" "$out" "gpu.nodes: a node's name"
out=$(cfg -o gpu.known_hosts=/k -o "gpu.nodes=h1:22:33"); rc=$?
check "an IPv6 address without brackets: refused" fails_with "$rc" "$out" "[ADDRESS]:PORT"
out=$(cfg -o gpu.known_hosts=/k -o gpu.nodes=h -o gpu.display=0); rc=$?
check "gpu.display 0: refused, :N expected" fails_with "$rc" "$out" "expected :N"
out=$(cfg -o gpu.interval_s=0); rc=$?
check "gpu.interval_s 0: refused by the schema" fails_with "$rc" "$out" "interval_s"
out=$(cfg -o gpu.known_hosts=/k -o "gpu.nodes=a=[::1]:2222 b=h"); rc=$?
check "[::1]:2222 and a bare host are fine" test "$rc" -eq 0

gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
tap_done
