#!/bin/bash
# The Kubernetes test environment and deploy/ (tests/env/k8s.sh start):
#  1. deploy/k8s/ passes the API server's own validation (dry run);
#  2. the gateway's identity (the ServiceAccount paia-gateway, with a
#     TokenRequest token, TLS verified) may do what the gateway needs on
#     pods in its namespace (logs too, served by kwok), and nothing else;
#  3. game pods from deploy/game-pod.json, scheduled on the fake GPU nodes,
#     go Pending -> Running -> Succeeded, or Failed with the exit code or
#     the DeadlineExceeded a test asks for; too many GPUs stay Pending
#     (Unschedulable); deleted pods go away;
#  4. the 410 Gone helpers: after compact + restart-apiserver a watch
#     from an old resourceVersion gets 410 (runs last: it restarts the
#     API server).
. "$(dirname "$0")/../integration/lib.sh"

ENV_SH=$SRCDIR/tests/env/k8s.sh
TEMPLATE=$SRCDIR/deploy/game-pod.json
"$ENV_SH" status >/dev/null 2>&1 || bail "no Kubernetes test environment: run tests/env/k8s.sh start"
eval "$("$ENV_SH" env)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/paia-k8s-test.XXXXXX")
STATES="$TMP"
run=$$
admin() { "$KUBECTL" --kubeconfig "$K8S_ADMIN_KUBECONFIG" "$@"; }
gw() { "$KUBECTL" --kubeconfig "$K8S_GATEWAY_KUBECONFIG" "$@"; }

# pod_json TASK GPUS DEADLINE_S [ANNOTATIONS_JSON]: the game pod template
# filled as the gateway would (here with sed), plus kwok annotations.
pod_json() {
	local ann=${4:-}
	[ -n "$ann" ] || ann='{}'
	sed -e "s/\${POD_NAME}/paia-$1-1/g; s/\${TASK_ID}/$1/g; s/\${ATTEMPT}/1/g" \
		-e "s/\${GATEWAY_ID}/gw-test-$run/g; s/\${GAME}/demo/g; s/\${KAFKA_TOPIC}/paia.tasks/g" \
		-e "s/\${KAFKA_PARTITION}/2/g; s/\${KAFKA_OFFSET}/$run/g; s/\${DEADLINE_S}/$3/g" \
		-e "s|\${IMAGE}|registry.example.net/paia/demo:1|g; s/\${GPUS}/$2/g" \
		-e "s/\${ENTRY}/main.py/g; s/\${PARAMS}/{\\\\\"level\\\\\": 1}/g" "$TEMPLATE" |
		python3 -c 'import json, sys
p = json.load(sys.stdin)
p["metadata"]["annotations"].update(json.loads(sys.argv[1]))
print(json.dumps(p))' "$ann"
}

# field POD JSONPATH: one field of a pod (empty when it does not exist).
field() { gw get pod "$1" -o "jsonpath=$2" 2>/dev/null; }
phase_is() { [ "$(field "$1" '{.status.phase}')" = "$2" ]; }
gone() { ! gw get pod "$1" >/dev/null 2>&1 && gw get pod "$1" 2>&1 | grep -q NotFound; }

# quiet CMD...: run CMD without output; show its output when it fails.
quiet() {
	"$@" >"$TMP/out" 2>&1 && return 0
	sed 's/^/#   /' "$TMP/out" | head -n 20
	return 1
}
# forbidden CMD...: the command fails because RBAC says no.
forbidden() { ! "$@" >"$TMP/out" 2>&1 && grep -qi forbidden "$TMP/out"; }

cleanup_pods() {
	admin -n "$K8S_NAMESPACE" delete pods -l "paia.io/managed-by=gw-test-$run" \
		--wait=false >/dev/null 2>&1 || true
	admin -n "$K8S_NAMESPACE" delete logs.kwok.x-k8s.io paia-rbac-1 --ignore-not-found \
		--wait=false >/dev/null 2>&1 || true
}
trap 'cleanup_pods; cleanup' EXIT

# --- 1. deploy/ ------------------------------------------------------------------
check "kubectl apply --dry-run=server -k deploy/k8s/" quiet \
	admin apply --dry-run=server -k "$SRCDIR/deploy/k8s/"
pod_json valid 1 60 >"$TMP/valid.json"
check "game-pod.json, filled, is accepted by the API server (dry run)" quiet \
	gw create --dry-run=server -f "$TMP/valid.json"
check "game-pod.json has no placeholder left after filling" \
	sh -c "! grep -q '\\\${' '$TMP/valid.json'"
check "deploy/display.sh --dry-run shows nvidia-xconfig and Xorg on :0" sh -c \
	"'$SRCDIR/deploy/display.sh' --dry-run --nvidia 2>/dev/null >'$TMP/display' &&
	grep -q 'nvidia-xconfig -a --allow-empty-initial-configuration --virtual=1920x1080' '$TMP/display' &&
	grep -q 'Xorg :0 ' '$TMP/display' && grep -q xserver-xorg-video-dummy '$TMP/display'"
check "the PVC paia-tasks is Bound" \
	test "$(admin -n "$K8S_NAMESPACE" get pvc paia-tasks -o 'jsonpath={.status.phase}')" = Bound
check "$(echo "$K8S_NODES" | wc -w) fake GPU nodes are Ready" \
	test "$(admin get nodes -l nvidia.com/gpu.present=true \
		-o 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
		grep -c True)" -eq "$(echo "$K8S_NODES" | wc -w)"

# --- 2. RBAC ------------------------------------------------------------------------
check "gateway kubeconfig: TLS verified (CA data, no insecure-skip-tls-verify)" \
	sh -c "grep -q certificate-authority-data '$K8S_GATEWAY_KUBECONFIG' && ! grep -q insecure '$K8S_GATEWAY_KUBECONFIG'"
check "the gateway authenticates as system:serviceaccount:paia:paia-gateway" \
	sh -c "'$KUBECTL' --kubeconfig '$K8S_GATEWAY_KUBECONFIG' auth whoami -o jsonpath='{.status.userInfo.username}' |
		grep -qx system:serviceaccount:$K8S_NAMESPACE:$K8S_SERVICE_ACCOUNT"
check "the API server's certificate verifies against K8S_CA_FILE" \
	sh -c "curl -sf --cacert '$K8S_CA_FILE' '$K8S_SERVER/readyz' | grep -qx ok"
check "... and not without it" \
	sh -c "! curl -sf '$K8S_SERVER/readyz' >/dev/null 2>&1"

pod_json rbac 1 60 '{"paia.io/fake-duration": "forever"}' >"$TMP/rbac.json"
check "gateway may create a pod in $K8S_NAMESPACE" quiet gw create -f "$TMP/rbac.json"
check "gateway may get it" quiet gw get pod paia-rbac-1
check "gateway may list pods by label" \
	sh -c "'$KUBECTL' --kubeconfig '$K8S_GATEWAY_KUBECONFIG' get pods -l paia.io/task-id=rbac -o name | grep -qx pod/paia-rbac-1"
check "gateway may watch pods" quiet \
	gw get --raw "/api/v1/namespaces/$K8S_NAMESPACE/pods?watch=1&timeoutSeconds=1&labelSelector=paia.io/task-id%3Drbac"
# Pod logs: kwok serves, as the node's kubelet, the file that a Logs
# object names (CRI log format), through the API server's pods/log.
now() { date -u +%Y-%m-%dT%H:%M:%S.000000000Z; }
printf '%s stdout F hello from the game\n%s stderr F frame 1\n' "$(now)" "$(now)" >"$TMP/game.log"
admin apply -f - >/dev/null <<EOF
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Logs
metadata: {name: paia-rbac-1, namespace: $K8S_NAMESPACE}
spec: {logs: [{containers: [game], logsFile: "$TMP/game.log", follow: true}]}
EOF
check "gateway may get pods/log: the game's stdout and stderr" wait_for 30 sh -c \
	"'$KUBECTL' --kubeconfig '$K8S_GATEWAY_KUBECONFIG' logs paia-rbac-1 >'$TMP/log' 2>&1 &&
	grep -qx 'hello from the game' '$TMP/log' && grep -qx 'frame 1' '$TMP/log'"
gw logs -f paia-rbac-1 >"$TMP/follow" 2>&1 &
follower=$!
wait_for 30 grep -q 'frame 1' "$TMP/follow"
printf '%s stdout F frame 2\n' "$(now)" >>"$TMP/game.log"
check "... and follows it (logs -f)" wait_for 30 grep -qx 'frame 2' "$TMP/follow"
kill "$follower" 2>/dev/null
wait "$follower" 2>/dev/null
check "gateway: auth can-i get pods/log" quiet gw auth can-i get pods --subresource=log
check "gateway may not list secrets" forbidden gw get secrets
check "gateway may not create pods in namespace default" \
	forbidden gw -n default create -f "$TMP/rbac.json"
check "gateway may not list pods in kube-system" forbidden gw -n kube-system get pods
check "gateway may not list nodes" forbidden gw get nodes
check "gateway may not patch pods" \
	forbidden gw patch pod paia-rbac-1 --type merge -p '{"metadata":{"labels":{"x":"y"}}}'
check "gateway may not exec into pods" \
	sh -c "'$KUBECTL' --kubeconfig '$K8S_GATEWAY_KUBECONFIG' auth can-i create pods --subresource=exec | grep -qx no"
check "gateway may not read configmaps" forbidden gw get configmaps
check "gateway may delete its pod" quiet gw delete pod paia-rbac-1 --wait=false
check "the deleted pod goes away" wait_for 30 gone paia-rbac-1

# --- 3. pod lifecycle on the fake GPU nodes --------------------------------------
# record POD: remember the resourceVersion before POD is created, so that
# phases_seen can replay every event of POD since (no phase is missed
# between polls, however short).
record() {
	gw get --raw "/api/v1/namespaces/$K8S_NAMESPACE/pods?limit=1" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])' \
			>"$TMP/$1.rv"
}
# phases_seen POD P1 P2 ...: the phases in POD's watch events since record,
# duplicates folded, are P1 P2 ...
phases_seen() {
	local pod=$1 got
	shift
	got=$(gw get --raw "/api/v1/namespaces/$K8S_NAMESPACE/pods?watch=1&timeoutSeconds=2&resourceVersion=$(cat "$TMP/$pod.rv")&fieldSelector=metadata.name%3D$pod" |
		python3 -c 'import json, sys
for line in sys.stdin:
    print(json.loads(line)["object"]["status"].get("phase", "-"))' | uniq | tr '\n' ' ')
	[ "$got" = "$* " ] || { diag "$pod went through: $got"; return 1; }
}

record paia-ok-1
pod_json ok 1 60 '{"paia.io/fake-duration": "2s"}' | gw create -f - >/dev/null ||
	bail "cannot create a game pod"
check "a game pod is scheduled on a fake GPU node" \
	wait_for 30 sh -c "'$KUBECTL' --kubeconfig '$K8S_GATEWAY_KUBECONFIG' get pod paia-ok-1 -o jsonpath='{.spec.nodeName}' | grep -q '^paia-gpu-'"
check "it runs" wait_for 30 phase_is paia-ok-1 Running
check "it succeeds" wait_for 30 phase_is paia-ok-1 Succeeded
check "its phases were Pending, Running, Succeeded" phases_seen paia-ok-1 Pending Running Succeeded
check "its container exited 0" \
	test "$(field paia-ok-1 '{.status.containerStatuses[0].state.terminated.exitCode}')" = 0
check "it ran about fake-duration (2 s)" sh -c "
	s=\$(date -d \"\$('$KUBECTL' --kubeconfig '$K8S_GATEWAY_KUBECONFIG' get pod paia-ok-1 -o jsonpath='{.status.containerStatuses[0].state.terminated.startedAt}')\" +%s)
	f=\$(date -d \"\$('$KUBECTL' --kubeconfig '$K8S_GATEWAY_KUBECONFIG' get pod paia-ok-1 -o jsonpath='{.status.containerStatuses[0].state.terminated.finishedAt}')\" +%s)
	[ \$((f - s)) -ge 1 ] && [ \$((f - s)) -le 4 ]"

record paia-exit3-1
pod_json exit3 1 60 '{"paia.io/fake-exit-code": "3"}' | gw create -f - >/dev/null
check "fake-exit-code 3: the pod fails" wait_for 30 phase_is paia-exit3-1 Failed
check "... its container exited 3" \
	test "$(field paia-exit3-1 '{.status.containerStatuses[0].state.terminated.exitCode}')" = 3
check "... after Pending and Running" phases_seen paia-exit3-1 Pending Running Failed

bound() { [ -n "$(field "$1" '{.spec.nodeName}')" ]; }
pod_json slow 1 60 '{"paia.io/fake-start-delay": "4s"}' | gw create -f - >/dev/null
wait_for 30 bound paia-slow-1
check "fake-start-delay 4s: on a node, still Pending" phase_is paia-slow-1 Pending
check "... then Running" wait_for 30 phase_is paia-slow-1 Running

pod_json deadline 1 3 '{"paia.io/fake-duration": "forever"}' | gw create -f - >/dev/null
check "fake-duration forever: still running after 1 s" sh -c "sleep 1; [ \"\$('$KUBECTL' --kubeconfig '$K8S_GATEWAY_KUBECONFIG' get pod paia-deadline-1 -o jsonpath='{.status.phase}')\" = Running ]"
check "... activeDeadlineSeconds 3: Failed" wait_for 30 phase_is paia-deadline-1 Failed
check "... with reason DeadlineExceeded" \
	test "$(field paia-deadline-1 '{.status.reason}')" = DeadlineExceeded

pod_json evict 1 60 '{"paia.io/fake-evict": "true"}' | gw create -f - >/dev/null
check "fake-evict: Failed" wait_for 30 phase_is paia-evict-1 Failed
check "... with reason Evicted" test "$(field paia-evict-1 '{.status.reason}')" = Evicted

unschedulable() {
	[ "$(field paia-big-1 '{.status.conditions[?(@.type=="PodScheduled")].reason}')" = Unschedulable ]
}
pod_json big 99 60 | gw create -f - >/dev/null
check "99 GPUs: PodScheduled=False, Unschedulable" wait_for 30 unschedulable
check "... for lack of nvidia.com/gpu" sh -c \
	"'$KUBECTL' --kubeconfig '$K8S_GATEWAY_KUBECONFIG' get pod paia-big-1 -o jsonpath='{.status.conditions[0].message}' | grep -q 'Insufficient nvidia.com/gpu'"
check "... still Pending, on no node" \
	test "$(field paia-big-1 '{.status.phase}/{.spec.nodeName}')" = Pending/

pod_json pull 1 60 '{"paia.io/fake-image-pull": "fail"}' | gw create -f - >/dev/null
check "fake-image-pull fail: Pending with ImagePullBackOff" wait_for 30 sh -c \
	"'$KUBECTL' --kubeconfig '$K8S_GATEWAY_KUBECONFIG' get pod paia-pull-1 -o jsonpath='{.status.phase}/{.status.containerStatuses[0].state.waiting.reason}' | grep -qx Pending/ImagePullBackOff"

pod_json del 1 60 '{"paia.io/fake-duration": "forever"}' | gw create -f - >/dev/null
wait_for 30 phase_is paia-del-1 Running
check "a running pod, deleted, goes away" sh -c \
	"'$KUBECTL' --kubeconfig '$K8S_GATEWAY_KUBECONFIG' delete pod paia-del-1 --wait=false >/dev/null"
check "... within 30 s" wait_for 30 gone paia-del-1

# --- 4. 410 Gone for informers ---------------------------------------------------------
rv=$(gw get --raw "/api/v1/namespaces/$K8S_NAMESPACE/pods" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
cleanup_pods
wait_for 30 sh -c "! '$KUBECTL' --kubeconfig '$K8S_ADMIN_KUBECONFIG' -n '$K8S_NAMESPACE' get pods -l paia.io/managed-by=gw-test-$run -o name | grep -q ."
check "tests/env/k8s.sh compact" sh -c "'$ENV_SH' compact >/dev/null"
check "tests/env/k8s.sh restart-apiserver" sh -c "'$ENV_SH' restart-apiserver >/dev/null"
check "a watch from the old resourceVersion $rv gets 410 Gone" sh -c \
	"'$KUBECTL' --kubeconfig '$K8S_GATEWAY_KUBECONFIG' get --raw '/api/v1/namespaces/$K8S_NAMESPACE/pods?watch=1&timeoutSeconds=5&resourceVersion=$rv' | grep -q '\"code\":410'"
check "the environment is up again" quiet "$ENV_SH" status
check "the gateway's token still works" quiet gw get pods

tap_done
