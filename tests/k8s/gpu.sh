#!/bin/bash
# tests/k8s/gpu.sh: GPU processes tied to tasks, end to end: the gateway
# with runner.type = k8s on the Kubernetes test environment (a real
# kube-apiserver, kwok's pods), a real broker, and [gpu] probing the real
# sshd GPU nodes of tests/env/sshd.sh (needed too: else skipped).
#  1. a task's pod runs on kwok; its UID goes into the fixture node's
#     /proc tree as a GPU process's cgroup (the kubelet's systemd layout):
#     paiactl gpus shows the task on that card, --json its pod, /metrics
#     labels the card with the pod, TASK shows the GPU;
#  2. the process's memory rises then falls: the result carries the GPU
#     with the peak memory and the card's mean utilisation;
#  3. gpu.k8s_nodes: a Node advertising nvidia.com/gpu at InternalIP
#     127.0.0.1 is probed (gpu.k8s_selector keeps to it), and dropped when
#     it is deleted; the RBAC it needs is deploy/k8s/optional/gpu-nodes.yaml.
. "$(dirname "$0")/lib.sh"
SSHENV=$SRCDIR/tests/env/sshd.sh
if ! bash "$SSHENV" status >/dev/null 2>&1; then
	echo "1..0 # SKIP the test sshd GPU nodes are not running ($SSHENV start)"
	exit 0
fi
eval "$(bash "$SSHENV" env)"
[ "$SSHD_NODES" -ge 2 ] || { echo "1..0 # SKIP 2 sshd nodes are needed"; exit 0; }

STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-k8s-gpu.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/gateway.log
FIX=gputest$$
PID1=$((60000 + $$ % 5000))
NODE=paia-gpu-ssh-$$
admin() { "$KUBECTL" --kubeconfig "$K8S_ADMIN_KUBECONFIG" "$@"; }
gpu_test_cleanup() {
	admin delete clusterrolebinding,clusterrole paia-gateway-gpu-nodes --ignore-not-found >/dev/null 2>&1
	admin delete node "$NODE" --ignore-not-found --wait=false >/dev/null 2>&1
	admin -n "$K8S_NAMESPACE" delete pods -l "paia.io/managed-by=k8sgpu-$run" --wait=false >/dev/null 2>&1
	bash "$SSHENV" fixture 1 rtx4080s >/dev/null 2>&1
	rm -rf "$SSHD_DIR/fixtures/$FIX".* "$SSHD_DIR/fixtures/proc/$PID1"
	cleanup
}
trap gpu_test_cleanup EXIT

# The fixture node 1 prints: two L40S, a process of the task's pod on GPU 0.
# apps MIB: the process holds MIB; the card's utilisation stays 60 %.
apps() {
	printf 'GPU-aaaaaaaa-0000-0000-0000-000000000000, %s, %s, python3\n' "$PID1" "$1" \
		>"$SSHD_DIR/fixtures/$FIX.apps.tmp"
	mv "$SSHD_DIR/fixtures/$FIX.apps.tmp" "$SSHD_DIR/fixtures/$FIX.apps"
}
cat >"$SSHD_DIR/fixtures/$FIX.query" <<Q
0, GPU-aaaaaaaa-0000-0000-0000-000000000000, NVIDIA L40S, 60, 30, 1000, 46068, 51, 201.50, 350.00, 2520, P0
1, GPU-bbbbbbbb-0000-0000-0000-000000000000, NVIDIA L40S, 10, 0, 10, 46068, 33, 35.00, 350.00, 210, P8
Q
: >"$SSHD_DIR/fixtures/$FIX.list"
apps 0
chmod a+r "$SSHD_DIR/fixtures/$FIX".*

conf=$STATE/gateway.conf
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
k8s_gateway_conf "$conf" "$STATE/gw" k8sgpu 4 10 <<CONF
[k8s]
pod_name_prefix = g$$
[health]
listen = 127.0.0.1:$PORT
[gpu]
nodes = n1=127.0.0.1:$SSHD_PORT
user = $SSHD_USER
key_file = $SSHD_KEY
known_hosts = $SSHD_KNOWN_HOSTS
proc_root = $SSHD_PROC
interval_s = 1
timeout_ms = 900
CONF
start() {
	"$GATEWAY" -c "$conf" "$@" 2>>"$GW_LOG" &
	GW_PID=$!
	wait_for 60 ctl status || bail "gateway did not start"
}
ctl topics --create --partitions 1,1,1 >/dev/null || bail "cannot create topics at $KAFKA"
bash "$SSHENV" fixture 1 "$FIX" >/dev/null
start
mkdir -p "$STATE/programs"
P=$(program ok.sh 'exit 0')

# --- 1. the task's process on a GPU ------------------------------------------------------
ctl submit --id gputask --program "$P" --params '{"pod_annotations":{"paia.io/fake-duration":"forever"}}' >/dev/null ||
	bail "submit failed"
pod_uid() { admin -n "$K8S_NAMESPACE" get pods -l "paia.io/task-id=gputask,paia.io/managed-by=k8sgpu-$run" -o 'jsonpath={.items[0].metadata.uid}'; }
running() { [ "$(task_field gputask state)" = running ]; }
check "the task's pod runs" wait_for 60 running
uid=$(pod_uid)
pod=$(admin -n "$K8S_NAMESPACE" get pods -l "paia.io/task-id=gputask,paia.io/managed-by=k8sgpu-$run" -o 'jsonpath={.items[0].metadata.name}')
diag "pod $pod uid $uid"
# Its container's cgroup as the kubelet's systemd driver names it (cgroup v2).
mkdir -p "$SSHD_DIR/fixtures/proc/$PID1"
printf '0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/cri-containerd-%s.scope\n' \
	"$(echo "$uid" | tr - _)" "$(printf 'c%.0s' $(seq 64))" >"$SSHD_DIR/fixtures/proc/$PID1/cgroup"
chmod -R a+rX "$SSHD_DIR/fixtures/proc/$PID1"
apps 1000
# proc_field EXPR: of the process PID1 in the gpus answer.
proc_field() {
	ctl gpus --json | python3 -c 'import json, sys
r = json.load(sys.stdin)
for n in r["nodes"]:
    for c in n["gpus"]:
        for p in c["processes"]:
            if p["pid"] == int(sys.argv[1]):
                p["gpu"] = c["index"]; print(eval(sys.argv[2]))' "$PID1" "$1"
}
mapped() { [ "$(proc_field 'p["task_id"]')" = gputask ] && [ "$(proc_field 'p["used_mib"]')" = "$1" ]; }
check "paiactl gpus --json: the process is the task's (its pod UID from its cgroup)" wait_for 60 mapped 1000
check "... with its pod, namespace, container, attempt and card" \
	[ "$(proc_field '(p["pod_uid"], p["pod"], p["namespace"], p["container"], p["attempt"], p["gpu"])')" = \
	"('$uid', '$pod', '$K8S_NAMESPACE', 'game', 1, 0)" ]
t=$(ctl gpus)
printf '%s\n' "$t" | sed 's/^/# /'
check "paiactl gpus: the task on n1's GPU 0, none on GPU 1" sh -c \
	"printf '%s\n' \"\$1\" | grep -Eq '^n1 +0 +NVIDIA L40S +60% +1000/46068MiB +51C +202/350W +gputask#1\$' &&
	 printf '%s\n' \"\$1\" | grep -Eq '^n1 +1 +NVIDIA L40S +10% .* -\$'" _ "$t"
m=$(curl -sf "http://127.0.0.1:$PORT/metrics")
check "/metrics: GPU 0's series carry the pod, namespace and container" contains "$m" \
	"DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-aaaaaaaa-0000-0000-0000-000000000000\",device=\"nvidia0\",modelName=\"NVIDIA L40S\",Hostname=\"n1\",container=\"game\",namespace=\"$K8S_NAMESPACE\",pod=\"$pod\"} 60"
check "... GPU 1's none" contains "$m" \
	"DCGM_FI_DEV_GPU_UTIL{gpu=\"1\",UUID=\"GPU-bbbbbbbb-0000-0000-0000-000000000000\",device=\"nvidia1\",modelName=\"NVIDIA L40S\",Hostname=\"n1\",container=\"\",namespace=\"\",pod=\"\"} 10"
tv=$(ctl task gputask --json)
check "TASK shows the GPU it runs on" \
	[ "$(jget "$tv" '[(g["node"], g["index"], g["name"], g["uuid"][:12]) for g in r["gpus"]]')" = \
	"[('n1', 0, 'NVIDIA L40S', 'GPU-aaaaaaaa')]" ]

# --- 2. peak memory and mean utilisation in the result ----------------------------------
apps 3000
check "the process grows to 3000 MiB" wait_for 60 mapped 3000
apps 2000
check "... then holds 2000 MiB" wait_for 60 mapped 2000
ctl cancel gputask >/dev/null
r=$(result_of gputask "" 90)
diag "result gpus: $(jget "${r:-{\}}" 'r.get("gpus")')"
check "the result carries the GPU: node, index, name, UUID" \
	[ "$(jget "$r" '[(g["node"], g["index"], g["name"], g["uuid"]) for g in r["gpus"]]')" = \
	"[('n1', 0, 'NVIDIA L40S', 'GPU-aaaaaaaa-0000-0000-0000-000000000000')]" ]
check "... its peak memory (3000 MiB, not the last 2000)" [ "$(jget "$r" 'r["gpus"][0]["peak_mem_mib"]')" = 3000 ]
check "... the card's mean utilisation while held (60 %)" [ "$(jget "$r" 'r["gpus"][0]["mean_util"]')" = 60 ]
check "... over the rounds that saw it (3 at least), first before last" \
	[ "$(jget "$r" 'r["gpus"][0]["samples"] >= 3 and r["gpus"][0]["first_seen"] < r["gpus"][0]["last_seen"]')" = True ]
gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0

# --- 3. Kubernetes GPU nodes ---------------------------------------------------------------
admin apply -f "$SRCDIR/deploy/k8s/optional/gpu-nodes.yaml" >/dev/null || bail "cannot apply gpu-nodes.yaml"
# Not kwok's (no annotation): nothing changes its status, and it takes no pod.
admin create -f - >/dev/null <<EOF2 || bail "cannot create node $NODE"
{"apiVersion": "v1", "kind": "Node",
 "metadata": {"name": "$NODE", "labels": {"paia.io/gpu-probe-test": "$$"}},
 "spec": {"unschedulable": true, "taints": [{"key": "paia.io/test", "value": "gpu-probe", "effect": "NoSchedule"}]},
 "status": {"capacity": {"nvidia.com/gpu": "2", "cpu": "1", "memory": "1Gi", "pods": "1"},
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}}
EOF2
bash "$SSHENV" fixture 2 "$FIX" >/dev/null
cat >>"$conf" <<CONF
k8s_nodes = true
k8s_selector = paia.io/gpu-probe-test=$$
k8s_port = $((SSHD_PORT + 1))
CONF
sed -i "s/^nodes = .*/nodes =/" "$conf"
start
node_state() { ctl gpus --json | python3 -c 'import json, sys
r = json.load(sys.stdin)
print([(n["node"], n["source"], n["host"], n["port"], n["state"], len(n["gpus"])) for n in r["nodes"]])'; }
probed() { [ "$(node_state)" = "[('$NODE', 'kubernetes', '127.0.0.1', $((SSHD_PORT + 1)), 'ok', 2)]" ]; }
check "gpu.k8s_nodes: the node advertising nvidia.com/gpu is probed at its InternalIP, and only it" \
	wait_for 60 probed
diag "$(node_state)"
admin delete node "$NODE" --wait=false >/dev/null
gone() { [ "$(node_state)" = "[]" ]; }
check "deleted from Kubernetes: no longer probed" wait_for 60 gone
check "the gateway logged both" sh -c "grep -q 'GPU node added.*source=kubernetes' '$GW_LOG' && grep -q 'GPU node removed' '$GW_LOG'"
gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
bash "$SSHENV" fixture 2 rtx4080s >/dev/null
tap_done
