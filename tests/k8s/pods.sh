#!/bin/bash
# The console's pods view and a pod's log through the control socket, on
# a real kube-apiserver whose pods kwok plays (tests/env/k8s.sh start) and
# a real broker (tests/env/kafka.sh start), with the gateway's own
# ServiceAccount. Each STATUS kwok can produce, as kubectl prints it:
#   Running, Completed, Error (exit code 3), Evicted, DeadlineExceeded
#   (pods without container status, as kubelets before 1.22 left them),
#   Error for an evicted pod whose container status says Error (kubectl's
#   rule since) through "paiactl pods --json" (they stay: pod_ttl_s is
#   long), and the same STATUS, READY and RESTARTS as the API server's
#   own table printer ("kubectl get pods");
#   Pending (unschedulable), ContainerCreating, ErrImagePull,
#   ImagePullBackOff, Terminating (a finalizer holds a deleted pod) as
#   pod events of a subscribed connection while they last;
#   a running pod's log followed through the socket (kwok serves it as
#   the kubelet would), to its end; a 33 MiB pod log to a client that
#   stops reading: the stream pauses (the gateway stays small), then
#   every line arrives in order.
. "$(dirname "$0")/lib.sh"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-k8s-pods.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/gateway.log
conf=$STATE/gateway.conf
k8s_gateway_conf "$conf" "$STATE/gw" k8spods 16 10 <<CONF
[runner]
max_attempts = 1
[k8s]
unschedulable_s = 20
deadline_slack_s = 5
pod_ttl_s = 3600
pod_name_prefix = q$$
CONF
pod() { echo "q$$-$1-1"; }
cleanup_pods() {
	for p in $(admin get pods -l "paia.io/managed-by=k8spods-$run" -o name 2>/dev/null); do
		admin patch "$p" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
	done
	admin delete pods -l "paia.io/managed-by=k8spods-$run" --wait=false >/dev/null 2>&1
	admin delete logs.kwok.x-k8s.io "$(pod logged)" "$(pod bigpod)" --ignore-not-found \
		--wait=false >/dev/null 2>&1
}
trap 'cleanup_pods; cleanup' EXIT

# pod_field TASK FIELD: a field of TASK's pod in "paiactl pods --json".
pod_field() {
	ctl pods --json | python3 -c 'import json, sys
for p in json.load(sys.stdin)["pods"]:
    if p.get("task_id") == sys.argv[1]:
        v = p.get(sys.argv[2])
        print(str(v).lower() if isinstance(v, bool) else v)' "$1" "$2"
}
pod_status_is() { [ "$(pod_field "$1" status)" = "$2" ]; }
# event_seen TASK STATUS [MESSAGE_PART]: a pod event of TASK's pod with
# that STATUS (and a message holding MESSAGE_PART) arrived.
event_seen() {
	python3 -c 'import json, sys
for l in open(sys.argv[1]):
    try:
        e = json.loads(l)
    except ValueError:
        continue
    p = e.get("pod") or {}
    if e.get("event") == "pod" and p.get("task_id") == sys.argv[2] and p.get("status") == sys.argv[3] \
            and sys.argv[4] in (p.get("message") or ""):
        sys.exit(0)
sys.exit(1)' "$STATE/events" "$1" "$2" "${3:-}"
}
# kubectl_columns POD: READY STATUS RESTARTS as the API server's table printer says.
kubectl_columns() { admin get pod "$1" --no-headers | awk '{print $2, $3, $4}'; }
ours_columns() {
	ctl pods --json | python3 -c 'import json, sys
for p in json.load(sys.stdin)["pods"]:
    if p["name"] == sys.argv[1]:
        print("%d/%d %s %d" % (p["ready"], p["total"], p["status"], p["restarts"]))' "$1"
}
same_as_kubectl() { [ "$(ours_columns "$1")" = "$(kubectl_columns "$1")" ]; }

ctl topics --create --partitions 4,3,1 >/dev/null || bail "cannot create topics at $KAFKA"
"$GATEWAY" -c "$conf" 2>>"$GW_LOG" &
GW_PID=$!
wait_for 60 ctl status || bail "gateway did not start"
ctl watch >"$STATE/events" 2>&1 &
watcher=$!
wait_for 30 test -s "$STATE/events" || bail "no events"
mkdir -p "$STATE/programs"
P=$(program ok.sh 'exit 0')
ann() { printf '{"pod_annotations":{%s}}' "$1"; }

check "pods answers with the k8s runner and its namespace" \
	test "$(ctl pods --json | python3 -c 'import json,sys; a=json.load(sys.stdin); print(a["runner"], a["namespace"])')" = "k8s $K8S_NAMESPACE"

ctl submit --id running --program "$P" --timeout 300 --params "$(ann '"paia.io/fake-duration":"forever"')" >/dev/null
ctl submit --id completed --program "$P" --params "$(ann '"paia.io/fake-duration":"100ms"')" >/dev/null
ctl submit --id error --program "$P" --params "$(ann '"paia.io/fake-exit-code":"3","paia.io/fake-duration":"100ms"')" >/dev/null
nocs='"paia.io/fake-container-status":"none"'
ctl submit --id evicted --program "$P" --params "$(ann '"paia.io/fake-evict":"true","paia.io/fake-duration":"300ms",'"$nocs")" >/dev/null
ctl submit --id evictederr --program "$P" --params "$(ann '"paia.io/fake-evict":"true","paia.io/fake-duration":"300ms"')" >/dev/null
ctl submit --id deadline --program "$P" --timeout 2 --params "$(ann '"paia.io/fake-duration":"forever",'"$nocs")" >/dev/null
ctl submit --id pullback --program "$P" --params "$(ann '"paia.io/fake-image-pull":"fail"')" >/dev/null
ctl submit --id pullerr --program "$P" --params "$(ann '"paia.io/fake-image-pull":"err"')" >/dev/null
ctl submit --id creating --program "$P" --timeout 15 --params "$(ann '"paia.io/fake-image-pull":"creating"')" >/dev/null
ctl submit --id pending --program "$P" --gpu 16 --params "$(ann '"paia.io/fake-duration":"100ms"')" >/dev/null
ctl submit --id logged --program "$P" --timeout 300 --params "$(ann '"paia.io/fake-duration":"forever"')" >/dev/null

# --- what stays: through "paiactl pods --json", and as kubectl prints it -------------------
check "Running" wait_for 60 pod_status_is running Running
check "... ready 1/1 on a GPU node" test "$(pod_field running ready)/$(pod_field running total) $(pod_field running node)" \
	= "1/1 $(admin get pod "$(pod running)" -o jsonpath='{.spec.nodeName}')"
check "Completed" wait_for 60 pod_status_is completed Completed
check "Error (exit code 3)" wait_for 60 pod_status_is error Error
check "Evicted" wait_for 60 pod_status_is evicted Evicted
check "... with the node's message" contains "$(pod_field evicted message)" "low on resource"
check "DeadlineExceeded" wait_for 60 pod_status_is deadline DeadlineExceeded
check "evicted with its container's status Error: Error" wait_for 60 pod_status_is evictederr Error
for t in running completed error evicted evictederr deadline; do
	check "$t: READY STATUS RESTARTS as kubectl prints them ($(kubectl_columns "$(pod "$t")"))" \
		wait_for 30 same_as_kubectl "$(pod "$t")"
done
check "pods prints kubectl's columns" sh -c "'$PAIACTL' -c '$conf' pods |
	grep -qE '^$(pod error) +error +1 +Error +0/1 +0 +paia-gpu'"

# --- what passes: pod events of a subscribed connection -------------------------------------
check "Pending (unschedulable, 16 GPUs)" wait_for 60 event_seen pending Pending
check "... the scheduler's message comes with it" event_seen pending Pending "Insufficient nvidia.com/gpu"
check "ContainerCreating" wait_for 60 event_seen creating ContainerCreating
check "ErrImagePull" wait_for 60 event_seen pullerr ErrImagePull
check "ImagePullBackOff" wait_for 60 event_seen pullback ImagePullBackOff
check "Running as an event too" event_seen running Running
check "Completed as an event too" event_seen completed Completed

# --- a running pod's log, through the socket --------------------------------------------------
now() { date -u +%Y-%m-%dT%H:%M:%S.000000000Z; }
printf '%s stdout F hello from the pod\n%s stderr F frame 1\n' "$(now)" "$(now)" >"$STATE/pod.log"
admin apply -f - >/dev/null <<EOF
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Logs
metadata: {name: $(pod logged), namespace: $K8S_NAMESPACE}
spec: {logs: [{containers: [game], logsFile: "$STATE/pod.log", follow: true}]}
EOF
wait_for 60 pod_status_is logged Running || diag "logged never ran"
ctl logs logged -f >"$STATE/follow" 2>"$STATE/follow.err" &
follower=$!
check "logs -f of a running pod: the pod's log" wait_for 30 grep -qx 'hello from the pod' "$STATE/follow"
printf '%s stdout F frame 2\n' "$(now)" >>"$STATE/pod.log"
check "... followed as it grows" wait_for 30 grep -qx 'frame 2' "$STATE/follow"
check "... still following while the game runs" kill -0 "$follower"
admin delete pod "$(pod logged)" --wait=false >/dev/null
check "... and it ends when the game does" wait_for 60 sh -c "! kill -0 $follower"
wait "$follower"; rc=$?
check "... exit status 0 ($rc; $(head -c 200 "$STATE/follow.err"))" test "$rc" -eq 0

# --- a pod's log to a client that stops reading: the stream pauses -----------------------------
cat >"$STATE/slow.py" <<'PY'
import json, os, socket, sys, time
path, task, want, gate, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_UNIX); s.connect(path); f = s.makefile("rwb")
f.write((json.dumps({"cmd": "logs", "id": task, "follow": True}) + "\n").encode()); f.flush()
got, expect = bytearray(), 0
while len(got) < want:
    m = json.loads(f.readline())
    if m.get("ok") is False:
        sys.exit(m["error"])
    if m.get("event") == "log":
        c = m["log"]
        if c["offset"] != expect or c["source"] != "pod":
            sys.exit("chunk at %d from %s, expected %d from the pod" % (c["offset"], c["source"], expect))
        expect += c["bytes"]
        got.extend(c["data"].encode())
    if len(got) >= 1 << 20 and not os.path.exists(out + ".stalled"):
        open(out + ".stalled", "w").close()
        while not os.path.exists(gate):
            time.sleep(0.1)
open(out, "wb").write(bytes(got))
PY
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# held PID PORT: a TCP connection of PID to PORT has over 64 KiB waiting
# that PID does not read: the largest Recv-Q is that big and does not
# shrink in a second (it may still grow while the sender fills the window).
recvq() {
	ss -tnpH state established "( dport = :$2 )" 2>/dev/null |
		awk -v p="pid=$1," 'index($0, p) && $1 > max {max = $1} END {print max + 0}'
}
held() { local a b; a=$(recvq "$1" "$2"); sleep 1; b=$(recvq "$1" "$2"); [ "$a" -gt 65536 ] && [ "$b" -ge "$a" ]; }
ctl submit --id bigpod --program "$P" --timeout 300 --params "$(ann '"paia.io/fake-duration":"forever"')" >/dev/null
python3 -c 'import sys
t = "2026-11-28T10:00:00.000000000Z"
with open(sys.argv[1], "w") as f:
    for i in range(320000):
        f.write("%s stdout F %06d %s\n" % (t, i, "x" * 100))' "$STATE/big.log"
expect=$((320000 * 108))
admin apply -f - >/dev/null <<EOF
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Logs
metadata: {name: $(pod bigpod), namespace: $K8S_NAMESPACE}
spec: {logs: [{containers: [game], logsFile: "$STATE/big.log", follow: true}]}
EOF
wait_for 60 pod_status_is bigpod Running || diag "bigpod never ran"
rss0=$(rss_kb "$GW_PID")
python3 "$STATE/slow.py" "$STATE/gw/control.sock" bigpod "$expect" "$STATE/go" "$STATE/big.out" \
	2>"$STATE/slow.err" &
slow=$!
wait_for 60 test -e "$STATE/big.out.stalled" || diag "the slow client got nothing: $(cat "$STATE/slow.err")"
check "a pod's log to a client that stops reading: the gateway stops reading the API server's stream" \
	wait_for 30 held "$GW_PID" "${K8S_SERVER##*:}"
grew_mb=$(( ($(rss_kb "$GW_PID") - rss0) / 1024 ))
diag "the gateway grew $grew_mb MiB while the client read 1 MiB of $((expect / 1048576)); held: $(recvq "$GW_PID" "${K8S_SERVER##*:}")"
# Under AddressSanitizer freed memory waits in a quarantine (every
# event of the watcher adds to it): the kernel's view above says it all.
if ldd "$GATEWAY" 2>/dev/null | grep -q libasan; then
	diag "AddressSanitizer build: its RSS is not a measure of what it holds"
else
	check "... its memory stays bounded ($grew_mb MiB)" test "$grew_mb" -lt 16
fi
touch "$STATE/go"
check "... and the client gets the whole log once it reads" wait_for 120 sh -c "! kill -0 $slow"
wait "$slow"; rc=$?
check "... every line, in order ($rc; $(head -c 200 "$STATE/slow.err"))" python3 -c '
import sys
d = open(sys.argv[1], "rb").read().split(b"\n")
sys.exit(0 if len(d) == 320001 and all(d[i][:6] == b"%06d" % i for i in range(320000)) else 1)' \
	"$STATE/big.out"
admin delete logs.kwok.x-k8s.io "$(pod bigpod)" --wait=false >/dev/null 2>&1

# --- Terminating: a deleted pod a finalizer holds ---------------------------------------------
admin patch pod "$(pod running)" --type merge -p '{"metadata":{"finalizers":["paia.io/test-hold"]}}' >/dev/null
admin delete pod "$(pod running)" --wait=false >/dev/null
check "Terminating" wait_for 60 pod_status_is running Terminating
check "... deleting: true" test "$(pod_field running deleting)" = true
check "... as kubectl prints it" wait_for 30 same_as_kubectl "$(pod running)"
admin patch pod "$(pod running)" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null
check "a pod gone: an event with deleted: true" wait_for 60 python3 -c 'import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "pod" and e["pod"]["name"] == sys.argv[2] and e["pod"].get("deleted"):
        sys.exit(0)
sys.exit(1)' "$STATE/events" "$(pod running)"
check "... and it leaves pods" wait_for 30 sh -c "! '$PAIACTL' -c '$conf' pods --json | grep -q '\"$(pod running)\"'"

kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null
gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
