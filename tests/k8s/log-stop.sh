#!/bin/bash
# A pod's log stream stopped through the control socket ({"cmd":"logs",
# "id":T,"stop":true}), on a real kube-apiserver whose pods kwok plays
# (tests/env/k8s.sh start) and a real broker (tests/env/kafka.sh start):
# while a connection follows a running pod's log, the API server holds
# one long-running pods/log request (its apiserver_longrunning_requests);
# once the stop is answered that request ends (the gateway cancelled it:
# its connection closed), no log event of the task comes on that
# connection any more though the pod's log grows (another connection
# following it sees the new line), and the connection may follow the log
# again.
. "$(dirname "$0")/lib.sh"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-k8s-logstop.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/gateway.log
conf=$STATE/gateway.conf
k8s_gateway_conf "$conf" "$STATE/gw" k8slogstop 4 10 <<CONF
[runner]
max_attempts = 1
[k8s]
deadline_slack_s = 5
pod_ttl_s = 3600
pod_name_prefix = s$$
CONF
pod() { echo "s$$-$1-1"; }
cleanup_pods() {
	admin delete pods -l "paia.io/managed-by=k8slogstop-$run" --wait=false >/dev/null 2>&1
	admin delete logs.kwok.x-k8s.io "$(pod logged)" --ignore-not-found --wait=false >/dev/null 2>&1
}
trap 'cleanup_pods; cleanup' EXIT

pod_status_is() {
	[ "$(ctl pods --json | python3 -c 'import json, sys
for p in json.load(sys.stdin)["pods"]:
    if p.get("task_id") == sys.argv[1]:
        print(p.get("status"))' "$1")" = "$2" ]
}

ctl topics --create --partitions 1,1,1 >/dev/null || bail "cannot create topics at $KAFKA"
"$GATEWAY" -c "$conf" 2>>"$GW_LOG" &
GW_PID=$!
wait_for 60 ctl status || bail "gateway did not start"
mkdir -p "$STATE/programs"
P=$(program ok.sh 'exit 0')
ctl submit --id logged --program "$P" --timeout 300 \
	--params '{"pod_annotations":{"paia.io/fake-duration":"forever"}}' >/dev/null
now() { date -u +%Y-%m-%dT%H:%M:%S.000000000Z; }
printf '%s stdout F hello from the pod\n' "$(now)" >"$STATE/pod.log"
admin apply -f - >/dev/null <<EOF
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Logs
metadata: {name: $(pod logged), namespace: $K8S_NAMESPACE}
spec: {logs: [{containers: [game], logsFile: "$STATE/pod.log", follow: true}]}
EOF
wait_for 60 pod_status_is logged Running || bail "logged never ran"
wait_for 60 sh -c "'$PAIACTL' -c '$conf' task logged --json | grep -q '\"state\": *\"running\"'" ||
	bail "logged is not running"

# client.py SOCKET TASK LOGFILE: one connection follows the pod's log,
# stops it, and looks on while another follows it; prints what it saw.
cat >"$STATE/client.py" <<'PY'
import json, os, re, socket, subprocess, sys, time
path, task, logfile = sys.argv[1:4]
kubectl, kubeconfig = os.environ["KUBECTL"], os.environ["K8S_ADMIN_KUBECONFIG"]

def pod_log_requests():
    """The API server's pods/log requests in flight (apiserver_longrunning_requests)."""
    text = subprocess.run([kubectl, "--kubeconfig", kubeconfig, "get", "--raw", "/metrics"],
                          check=True, capture_output=True, text=True).stdout
    n = 0
    for l in text.splitlines():
        if l.startswith("apiserver_longrunning_requests{") and 'resource="pods"' in l \
                and 'subresource="log"' in l:
            n += int(float(l.rsplit(" ", 1)[1]))
    return n

def wait_until(cond, limit=60):
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.1)
    return True

class Conn:
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX); self.s.connect(path)
        self.f = self.s.makefile("rwb")
        self.lines, self.after_stop, self.stopped = [], [], False
        self.sources = set()
    def send(self, o):
        self.f.write((json.dumps(o) + "\n").encode()); self.f.flush()
    def line(self):
        l = self.f.readline()
        if not l:
            sys.exit("connection closed")
        m = json.loads(l)
        kind = m.get("event")
        if kind in ("log", "log_end") and m[kind]["task_id"] == task:
            if self.stopped:
                self.after_stop.append(m)
            if kind == "log":
                self.lines.extend(m["log"]["data"].splitlines())
                self.sources.add(m["log"]["source"])
        return m
    def ask(self, o):
        self.send(o)
        while True:
            m = self.line()
            if "ok" in m:
                return m
    def until(self, cond):
        while not cond():
            self.line()

out = {"before": pod_log_requests()}
a = Conn()
out["follow"] = a.ask({"cmd": "logs", "id": task, "follow": True})
a.until(lambda: "hello from the pod" in a.lines)
out["sources"] = sorted(a.sources)
out["while_following"] = pod_log_requests()
out["stop"] = a.ask({"cmd": "logs", "id": task, "stop": True})
a.stopped = True
out["ended"] = wait_until(lambda: pod_log_requests() == out["before"])
out["after_stop"] = pod_log_requests()
# The log grows; another connection sees it, the stopped one does not.
b = Conn()
out["other"] = b.ask({"cmd": "logs", "id": task, "follow": True})
with open(logfile, "a") as f:
    f.write("%s stdout F frame 2\n" % time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()))
b.until(lambda: "frame 2" in b.lines)
out["status"] = a.ask({"cmd": "status"}).get("ok")
out["late"] = a.after_stop
# The stopped connection may follow it again: from the start.
a.stopped = False
a.lines = []
out["again"] = a.ask({"cmd": "logs", "id": task, "follow": True})
a.until(lambda: "frame 2" in a.lines)
out["again_lines"] = a.lines[:2]
print(json.dumps(out))
PY
out=$(timeout 300 python3 "$STATE/client.py" "$STATE/gw/control.sock" logged "$STATE/pod.log") ||
	bail "client failed: $out"
diag "$out"
check "following a running pod's log: one pods/log request at the API server" \
	test "$(jget "$out" 'r["follow"]["ok"] and r["sources"] == ["pod"] and r["while_following"] == r["before"] + 1')" = True
check "the stop is answered with the task's id" \
	test "$(jget "$out" 'r["stop"].get("ok") and r["stop"].get("task_id")')" = logged
check "... and the API server's pods/log request ends (cancelled by the gateway)" \
	test "$(jget "$out" 'r["ended"] and r["after_stop"] == r["before"]')" = True
check "no log event of the task on that connection after the answer, though the pod's log grew" \
	test "$(jget "$out" 'r["other"]["ok"] and r["status"] and len(r["late"]) == 0')" = True
check "the connection may follow the log again, from its start" \
	test "$(jget "$out" 'r["again"]["ok"] and r["again_lines"][0] == "hello from the pod"')" = True

admin delete pod "$(pod logged)" --wait=false >/dev/null
gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
