#!/bin/bash
# paia-console's Pods view (view 3) on a real kube-apiserver whose pods
# kwok plays (tests/env/k8s.sh start) and a real broker (tests/env/kafka.sh
# start), in tmux at 200x50 and 80x24, read back with capture-pane as an
# operator would see it. Each STATUS kwok can produce, as the API server's
# own table printer ("kubectl get pods") prints it for the same pod:
#   the gateway's own tasks: Running, Completed, Error (exit code 3),
#   Evicted, Error (evicted, its container's status Error),
#   DeadlineExceeded;
#   pods of the gateway's group (its paia.io/managed-by label) that no job
#   of this gateway claims, as another instance of the group leaves them:
#   Pending (unschedulable), ImagePullBackOff, ErrImagePull,
#   ContainerCreating, Terminating (a finalizer holds it). The gateway
#   deletes its own pods in those states at once, so they would pass
#   faster than a screen is read; unclaimed pods that have not finished
#   it leaves alone (gateway/runner-k8s.c), so they hold still.
# Each row: NAME, TASK, ATT, READY, STATUS, RESTARTS, NODE (where the
# width shows them) the same as kubectl's; Enter on a pod opens its task;
# the failed rows' STATUS is drawn in another colour than Running's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tui/lib.sh"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-k8s-conpods.XXXXXX")
STATES="$STATES $STATE"
GW_LOG=$STATE/gateway.log
conf=$STATE/gateway.conf
MB=conpods-$run
# Pod names short enough for the NAME column at 80 columns (16 cells):
# c + three digits, the task id (8 at most), the attempt.
PFX=c$(printf %03d $((RANDOM % 1000)))
k8s_gateway_conf "$conf" "$STATE/gw" conpods 16 10 <<CONF
[runner]
max_attempts = 1
[k8s]
unschedulable_s = 3600
deadline_slack_s = 5
pod_ttl_s = 3600
pod_name_prefix = $PFX
CONF
pod() { echo "$PFX-$1-1"; }
cleanup_pods() {
	for p in $(admin get pods -l "paia.io/managed-by=$MB" -o name 2>/dev/null); do
		admin patch "$p" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
	done
	admin delete pods -l "paia.io/managed-by=$MB" --wait=false >/dev/null 2>&1
}
trap 'cleanup_pods; tui_cleanup' EXIT

pod_status_is() {
	ctl pods --json | python3 -c 'import json, sys
sys.exit(0 if any(p["name"] == sys.argv[1] and p["status"] == sys.argv[2]
                  for p in json.load(sys.stdin)["pods"]) else 1)' "$(pod "$1")" "$2"
}
# kubectl_status TASK: STATUS of TASK's pod as the API server's table printer has it.
kubectl_status() { admin get pod "$(pod "$1")" --no-headers | awk '{print $3}'; }

ctl topics --create --partitions 4,3,1 >/dev/null || bail "cannot create topics at $KAFKA"
"$GATEWAY" -c "$conf" 2>>"$GW_LOG" &
GW_PID=$!
wait_for 60 ctl status || bail "gateway did not start"
mkdir -p "$STATE/programs"
P=$(program ok.sh 'exit 0')
ann() { printf '{"pod_annotations":{%s}}' "$1"; }
nocs='"paia.io/fake-container-status":"none"'

# --- the gateway's own tasks, in the states that stay ------------------------------------------
ctl submit --id run --program "$P" --timeout 1800 --params "$(ann '"paia.io/fake-duration":"forever"')" >/dev/null
ctl submit --id done --program "$P" --params "$(ann '"paia.io/fake-duration":"100ms"')" >/dev/null
ctl submit --id err --program "$P" --params "$(ann '"paia.io/fake-exit-code":"3","paia.io/fake-duration":"100ms"')" >/dev/null
ctl submit --id evict --program "$P" --params "$(ann '"paia.io/fake-evict":"true","paia.io/fake-duration":"300ms",'"$nocs")" >/dev/null
ctl submit --id everr --program "$P" --params "$(ann '"paia.io/fake-evict":"true","paia.io/fake-duration":"300ms"')" >/dev/null
ctl submit --id dl --program "$P" --timeout 2 --params "$(ann '"paia.io/fake-duration":"forever",'"$nocs")" >/dev/null
for t in run:Running done:Completed err:Error evict:Evicted everr:Error dl:DeadlineExceeded; do
	wait_for 90 pod_status_is "${t%%:*}" "${t#*:}" || bail "the pod of ${t%%:*} never became ${t#*:}"
done

# --- pods of the group no job of this gateway claims: the passing states, held ------------------
# The running pod as the gateway made it from the template, renamed, its
# fake- annotations replaced; no GPU (the fake nodes have few), but 16
# for the pod that must stay unschedulable.
admin get pod "$(pod run)" -o json >"$STATE/run-pod.json" || bail "no pod $(pod run)"
group_pod() {
	python3 - "$STATE/run-pod.json" "$(pod "$1")" "$1" "$2" "$3" <<'PY' | admin create -f - >/dev/null
import json, sys
src, name, task, annotations, gpus = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), sys.argv[5]
p = json.load(open(src))
m = p["metadata"]
for k in ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"):
    m.pop(k, None)
m["name"] = name
m["labels"]["paia.io/task-id"] = task
m["labels"]["paia.io/attempt"] = "1"
m["annotations"] = {k: v for k, v in m.get("annotations", {}).items() if not k.startswith("paia.io/fake-")}
m["annotations"].update(annotations)
p.pop("status", None)
p["spec"].pop("nodeName", None)
for c in p["spec"]["containers"]:
    for part in ("limits", "requests"):
        c.get("resources", {}).get(part, {}).pop("nvidia.com/gpu", None)
        if gpus != "0":
            c.setdefault("resources", {}).setdefault(part, {})["nvidia.com/gpu"] = gpus
    for e in c.get("env", []):
        if e["name"] == "PAIA_TASK_ID":
            e["value"] = task
print(json.dumps(p))
PY
}
# kubectl warns that the template's hostPath volumes are not "restricted".
quiet() { "$@" 2> >(grep -v '^Warning: would violate PodSecurity' >&2); }
quiet group_pod pend '{"paia.io/fake-duration":"forever"}' 16 || bail "cannot create $(pod pend)"
quiet group_pod pull '{"paia.io/fake-image-pull":"fail"}' 0 || bail "cannot create $(pod pull)"
quiet group_pod pullerr '{"paia.io/fake-image-pull":"err"}' 0 || bail "cannot create $(pod pullerr)"
quiet group_pod creat '{"paia.io/fake-image-pull":"creating"}' 0 || bail "cannot create $(pod creat)"
quiet group_pod term '{"paia.io/fake-duration":"forever"}' 0 || bail "cannot create $(pod term)"
wait_for 60 pod_status_is term Running || bail "$(pod term) never ran"
admin patch pod "$(pod term)" --type merge -p '{"metadata":{"finalizers":["paia.io/test-hold"]}}' >/dev/null
admin delete pod "$(pod term)" --wait=false >/dev/null
for t in pend:Pending pull:ImagePullBackOff pullerr:ErrImagePull creat:ContainerCreating term:Terminating; do
	wait_for 60 pod_status_is "${t%%:*}" "${t#*:}" || bail "the pod of ${t%%:*} never became ${t#*:}"
done
TASKS="run done err evict everr dl pend pull pullerr creat term"
# What the screen must show: kubectl's columns, from the API server's table printer.
for t in $TASKS; do
	check "$t: the gateway's STATUS is kubectl's ($(kubectl_status "$t"))" \
		test "$(kubectl_status "$t")" = "$(ctl pods --json | python3 -c 'import json, sys
print([p["status"] for p in json.load(sys.stdin)["pods"] if p["name"] == sys.argv[1]][0])' "$(pod "$t")")"
done
admin get pods -l "paia.io/managed-by=$MB" -o json >"$STATE/pods.json"
admin get pods -l "paia.io/managed-by=$MB" --no-headers >"$STATE/kubectl.txt"

# row_ok SESSION TASK: the pods view shows TASK's pod as one row whose
# cells, in the columns the header shows, are kubectl's (AGE aside).
row_ok() {
	screen "$1" >"$TMPD/$1.screen"
	python3 - "$TMPD/$1.screen" "$STATE/kubectl.txt" "$STATE/pods.json" "$(pod "$2")" <<'PY'
import json, sys
screen, table, pods, name = sys.argv[1:5]
want = {}
for l in open(table):
    f = l.split()
    if f[0] == name:
        want.update(NAME=f[0], READY=f[1], STATUS=f[2], RESTARTS=f[3])
for p in json.load(open(pods))["items"]:
    if p["metadata"]["name"] == name:
        want.update(TASK=p["metadata"]["labels"]["paia.io/task-id"],
                    ATT=p["metadata"]["labels"]["paia.io/attempt"],
                    NODE=p["spec"].get("nodeName", ""))
lines = open(screen).read().split("\n")
head = [i for i, l in enumerate(lines) if l.split()[:1] == ["NAME"] and "STATUS" in l]
if len(head) != 1 or "STATUS" not in want:
    sys.exit("# no pods view header, or no pod %s in kubectl's table" % name)
cols = lines[head[0]].split()
expect = [want[c] for c in cols if c != "AGE" and want.get(c, "") != ""]
for l in lines[head[0] + 1:]:
    f = l.split()
    if f[:1] == [name]:
        got = f[:len(f) - 1] if "AGE" in cols else f
        if got == expect:
            sys.exit(0)
        sys.exit("# %s: the screen has %s, kubectl %s" % (name, got, expect))
sys.exit("# no row for %s" % name)
PY
}

view_rows_ok() {
	local s=$1 t
	for t in $TASKS; do
		wait_for 30 row_ok "$s" "$t" >/dev/null 2>&1
		check "$s: $t: $(kubectl_status "$t"), as kubectl prints it" row_ok "$s" "$t"
	done
}

CON_TARGET="-c $conf"
con_start big 200 50
keys big 3
check "200x50: the pods view" on_screen big "STATUS"
check "200x50: every pod of the group ($(echo $TASKS | wc -w))" \
	on_screen big "$(echo $TASKS | wc -w) pods"
view_rows_ok big
node_shown() { screen big | grep -qE "^ *$(pod run) .* paia-gpu-[0-9]+ "; }
check "200x50: the NODE column names the fake GPU node" node_shown

con_start small 80 24
keys small 3
check "80x24: the pods view" on_screen small "STATUS"
view_rows_ok small

# Colours (the view's own rule, tui/view-pods.c): the failed pods' STATUS
# is drawn otherwise than Running's. The selection (reverse) is moved to
# the last row, a pod no check below reads.
# sgr_at SESSION TASK: the SGR state the STATUS cell of TASK's row starts with.
sgr_at() {
	screen_e "$1" | python3 -c '
import re, sys
name, status = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    sgr, text, state = [], "", ""
    for m in re.finditer(r"\x1b\[([0-9;]*)m|([^\x1b]+)", line):
        if m.group(1) is not None:
            state = "" if m.group(1) in ("", "0") else state + ";" + m.group(1)
            continue
        for ch in m.group(2):
            sgr.append(state)
            text += ch
    f = text.split()
    if f[:1] != [name] or status not in f:
        continue
    at = text.index(" " + status + " ") + 1
    print(sgr[at] or "plain")
    sys.exit(0)
sys.exit(1)' "$(pod "$2")" "$(kubectl_status "$2")"
}
keys big G
wait_for 30 sgr_at big run
run_sgr=$(sgr_at big run)
check "colours: Running has its own attribute ($run_sgr)" test -n "$run_sgr" -a "$run_sgr" != plain
for t in err evict everr dl pull pullerr; do
	a=$(sgr_at big "$t")
	check "colours: $(kubectl_status "$t") ($t) is drawn otherwise than Running ($a)" \
		test -n "$a" -a "$a" != "$run_sgr"
done

# Enter on a pod: its task.
# row_of SESSION TASK: the index of TASK's pod among the rows shown.
row_of() {
	screen "$1" | awk -v n="$(pod "$2")" '
		$1 == "NAME" && /STATUS/ { h = 1; next }
		h && $1 == n { print i; exit }
		h { i++ }'
}
keys big g
for _ in $(seq "$(row_of big err)"); do keys big j; done
keys big Enter
check "enter on the pod of err opens its task" on_screen big "Task err  attempt 1"
check "... with the task's own error" on_screen big "user: game exited with code 3"

keys big q
check "q quits, exit status 0" on_screen big "console-exited=0" 10
gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
