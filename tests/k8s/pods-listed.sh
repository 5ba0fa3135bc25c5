#!/bin/bash
# A gateway whose informer lists thousands of game pods at start, on a
# real kube-apiserver (tests/env/k8s.sh start), with a subscriber
# (paiactl watch) and a console (paia-console, Pods view) connected from
# its first moments, before the informer has listed: the list's pods are
# more than the control socket's cap on a client's unread output (1 MiB,
# CONTROL_OUT_MAX: this test checks that they are), and they used to come
# as one pod event a pod in one loop turn, which dropped every subscriber
# ("control subscriber too slow, dropped"). Now:
#   the watcher receives one pods event (synced, the count) and no pod
#   event of the list, and stays connected (status events follow);
#   pods then answers every pod;
#   the console, whose first pods answer was empty (not listed yet),
#   asks again on that event and shows every pod;
#   the gateway's log has no drop.
# "Before the informer has listed" is made sure of, not raced: the
# gateway reaches the API server through a TCP relay that holds every
# connection until the test has seen both clients connected and the
# gateway's pods answer still empty (synced false). The pods are created
# fast (kubectl create of Lists of 1,000) with a scheduler nobody runs,
# so they stay Pending, unbound: no scheduler or kwok work, and deleting
# them is immediate.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../tui/lib.sh"
eval "$("${K8S_ENV:-$SRCDIR/tests/env/k8s.sh}" env)" || bail "no k8s env (tests/env/k8s.sh start)"

N=${PODS_LISTED_N:-4000}
W=$(mktemp -d "${TMPDIR:-/tmp}/paia-k8s-listed.XXXXXX")
STATES="$W"
MB=listed-$$
admin() { "$KUBECTL" --kubeconfig "$K8S_ADMIN_KUBECONFIG" -n "$K8S_NAMESPACE" "$@"; }
delete_pods() {
	# One DeleteCollection; unbound pods go at once.
	admin delete --raw "/api/v1/namespaces/$K8S_NAMESPACE/pods?labelSelector=paia.io%2Fmanaged-by%3D$MB&gracePeriodSeconds=0" \
		>/dev/null 2>&1
}
RELAY_PID=
cleanup_all() {
	exec 7>&- 2>/dev/null
	[ -z "$RELAY_PID" ] || kill "$RELAY_PID" 2>/dev/null
	delete_pods
	tui_cleanup
}
trap cleanup_all EXIT

# --- the pods, before the gateway starts ------------------------------------------------------
python3 - "$W/pods" "$N" "$MB" <<'PY'
import json, os, sys
out, n, mb = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(out)
for c in range(0, n, 1000):
    items = []
    for i in range(c, min(n, c + 1000)):
        # Long names (the POD's name and task_id) make 4,000 pods about
        # 1.3 MB: over the cap with fewer pods to create.
        name = "%s-game-pod-listed-before-its-subscribers-%05d" % (mb, i)
        items.append({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name,
                "labels": {"paia.io/managed-by": mb, "paia.io/task-id": name,
                           "paia.io/attempt": "1"}},
            "spec": {"schedulerName": "paia-test-nobody", "restartPolicy": "Never",
                "automountServiceAccountToken": False, "enableServiceLinks": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{"name": "game", "image": "registry.example.net/paia/catch:listed",
                    "securityContext": {"allowPrivilegeEscalation": False,
                                        "capabilities": {"drop": ["ALL"]}}}]}})
    with open("%s/%05d.json" % (out, c), "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)
PY
ls "$W/pods"/*.json | xargs -P 2 -n 1 sh -c \
	'"$0" --kubeconfig "$1" -n "$2" create -f "$3" >/dev/null' "$KUBECTL" "$K8S_ADMIN_KUBECONFIG" "$K8S_NAMESPACE" ||
	bail "kubectl create of $N pods failed"
have=$(admin get pods -l "paia.io/managed-by=$MB" -o name | wc -l)
[ "$have" -eq "$N" ] || bail "$have pods of $N created"
diag "$N pods created in $SECONDS s"

# --- the relay: the API server's port, held shut until the gate opens -------------------------
mkfifo "$W/gate"
cat >"$W/relay.py" <<'PY'
import asyncio, os, sys
host, port = sys.argv[1].rsplit(":", 1)
async def pipe(r, w):
    try:
        while True:
            b = await r.read(65536)
            if not b:
                break
            w.write(b)
            await w.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        w.close()
async def main():
    gate = asyncio.Event()
    async def conn(cr, cw):
        print("held", file=sys.stderr, flush=True)
        await gate.wait()
        sr, sw = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pipe(cr, sw), pipe(sr, cw))
    srv = await asyncio.start_server(conn, "127.0.0.1", 0)
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(srv.sockets[0].getsockname()[1]))
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    gate.set()
    print("open", file=sys.stderr, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
PY
python3 "$W/relay.py" "${K8S_SERVER#https://}" "$W/relay.port" <"$W/gate" 2>"$W/relay.log" &
RELAY_PID=$!
exec 7>"$W/gate"
wait_for 20 test -s "$W/relay.port" || bail "the relay did not start: $(cat "$W/relay.log")"
sed "s#$K8S_SERVER#https://127.0.0.1:$(cat "$W/relay.port")#" "$K8S_GATEWAY_KUBECONFIG" >"$W/kubeconfig"

# --- the gateway, a watcher and a console, before the list -----------------------------------
cat >"$W/gateway.conf" <<CONF
[runner]
type = k8s
[k8s]
kubeconfig = $W/kubeconfig
managed_by = $MB
pod_template = ${POD_TEMPLATE:-$SRCDIR/deploy/game-pod.json}
default_image = registry.example.net/paia/catch:test
CONF
gw_start -c "$W/gateway.conf"
ctl watch >"$W/events" 2>"$W/watch.err" &
WATCH_PID=$!
# A status event a second: the watcher has subscribed once it has one.
wait_for 30 grep -q '"event":"status"' "$W/events" || bail "the watcher has no events: $(cat "$W/watch.err")"
con_start con 120 30
keys con 3
check "the console is on the Pods view, nothing listed yet" \
	on_screen con "the gateway has not listed the pods yet"
pods_json() { ctl pods --json >"$W/pods.json" 2>"$W/pods.err"; }
check "the gateway's informer waits at the relay" wait_for 30 grep -q held "$W/relay.log"
check "... so pods answers synced false, no pod" sh -c \
	"'$PAIACTL' -d '$STATE' pods --json | python3 -c '
import json, sys
a = json.load(sys.stdin)
sys.exit(0 if a[\"synced\"] is False and a[\"pods\"] == [] else 1)'"

# --- the list ------------------------------------------------------------------------------------
echo open >&7
check "one pods event comes: synced, $N pods" \
	wait_for 120 grep -q '"event":"pods"' "$W/events"
# One more status event after it: the watcher is still connected and read on.
after_pods() { sed -n '/"event":"pods"/,$p' "$W/events" | grep -q '"event":"status"'; }
check "the watcher is still connected (a status event after it)" wait_for 30 after_pods
check "the watcher is still running" kill -0 "$WATCH_PID"
check "the pods event says synced and the count ($N)" python3 - "$W/events" "$N" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pods = [e["pods"] for e in evs if e.get("event") == "pods"]
sys.exit(0 if pods == [{"synced": True, "count": int(sys.argv[2])}] else "# pods events: %r" % pods)
PY
check "no pod event of the list's pods (the list is not sent pod by pod)" \
	sh -c "! grep -q '\"event\":\"pod\"' '$W/events'"
pods_json
check "pods answers every pod, synced" python3 - "$W/pods.json" "$N" "$MB" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
names = {p["name"] for p in a["pods"]}
want = {"%s-game-pod-listed-before-its-subscribers-%05d" % (sys.argv[3], i)
        for i in range(int(sys.argv[2]))}
sys.exit(0 if a["synced"] is True and names == want else "# %d pods, synced %r" % (len(names), a["synced"]))
PY
# The burst this test is about is real only when the list's pod events
# would not fit in the cap: the answer holds the same POD objects.
check "the list is over the cap on unread output ($(wc -c <"$W/pods.json") bytes of pods > 1 MiB)" \
	test "$(wc -c <"$W/pods.json")" -gt 1048576
check "the console asked again and shows every pod" on_screen con " $N pods" 60
check "the gateway dropped no subscriber" \
	sh -c "! grep -q 'control subscriber too slow, dropped' '$GW_LOG'"
check "the gateway logged the list (informer: listed, objects=$N)" \
	grep -q "informer: listed.*objects=$N" "$GW_LOG"

keys con q
check "q quits the console, exit status 0" on_screen con "console-exited=0" 10
kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null
gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || { gw_dump_log; diag "relay: $(tr '\n' ' ' <"$W/relay.log")"; }
tap_done
