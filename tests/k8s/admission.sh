#!/bin/bash
# The admission policy for game pods (deploy/k8s/15-game-pod-policy.yaml)
# on the real kube-apiserver of tests/env/k8s.sh:
#  1. deploy/game-pod.json filled as the gateway fills it (with kwok's
#     annotations) is admitted when the gateway's ServiceAccount creates it,
#     and Pod Security's warning names nothing but the hostPath volumes;
#  2. pods made by hand outside that shape are refused, as the gateway,
#     each with the message of the rule it breaks (each case breaks one);
#  3. cluster admins are not concerned (an admin's pod outside the shape
#     is admitted), but an admin acting as the gateway (--as, a dry run:
#     how docs/operations.md checks a pod by hand) is; the gateway cannot
#     change the policy.
. "$(dirname "$0")/../integration/lib.sh"

ENV_SH=$SRCDIR/tests/env/k8s.sh
TEMPLATE=$SRCDIR/deploy/game-pod.json
"$ENV_SH" status >/dev/null 2>&1 || bail "no Kubernetes test environment: run tests/env/k8s.sh start"
eval "$("$ENV_SH" env)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/paia-k8s-adm.XXXXXX")
STATES="$TMP"
run=$$
GW_ID=gw-adm-$run
admin() { "$KUBECTL" --kubeconfig "$K8S_ADMIN_KUBECONFIG" -n "$K8S_NAMESPACE" "$@"; }
gw() { "$KUBECTL" --kubeconfig "$K8S_GATEWAY_KUBECONFIG" -n "$K8S_NAMESPACE" "$@"; }
cleanup_pods() {
	admin delete pods -l "paia.io/managed-by=$GW_ID" --wait=false >/dev/null 2>&1 || true
	admin delete pod "adm-admin-$run" --ignore-not-found --wait=false >/dev/null 2>&1 || true
}
trap 'cleanup_pods; cleanup' EXIT

# pod NAME [PYTHON]: the template filled as runner-k8s.c fills it (task
# NAME, attempt 1, an image of the policy's registry, a kwok
# annotation as k8s.param_annotations lets tasks add), then changed by
# PYTHON, which sees the pod as p, its spec as s and its container as c.
pod() {
	python3 - "$TEMPLATE" "$1" "$GW_ID" "${2:-}" <<'EOF'
import json, sys
template, task, gw, change = sys.argv[1:5]
values = {
    "POD_NAME": task + "-1", "TASK_ID": task, "TASK_LABEL": task, "ATTEMPT": "1",
    "GATEWAY_ID": gw, "GAME": "demo", "KAFKA_TOPIC": "paia.tasks", "KAFKA_PARTITION": "0",
    "KAFKA_OFFSET": "7", "DEADLINE_S": "60", "IMAGE": "registry.example.net/paia/demo:1",
    "ENTRY": "main.py", "PARAMS": '{"level": 1}', "GPUS": "1", "NAMESPACE": "paia",
}
text = open(template).read()
for k, v in values.items():
    text = text.replace("${%s}" % k, json.dumps(v)[1:-1])
p = json.loads(text)
p["metadata"]["annotations"]["paia.io/fake-duration"] = "forever"
s = p["spec"]
c = s["containers"][0]
exec(change)
print(json.dumps(p))
EOF
}

# refused WHAT PYTHON MESSAGE: the gateway's create of the next test pod
# (adm-<run>-<n>), changed by PYTHON, fails: the policy refuses it with
# MESSAGE (a fixed string). WHAT only names the case.
n=0
refused() {
	local out
	n=$((n + 1))
	pod "adm-$run-$n" "$2" >"$TMP/pod.json" || { diag "cannot build the pod"; return 1; }
	if gw create -f "$TMP/pod.json" >"$TMP/out" 2>&1; then
		diag "admitted: $(cat "$TMP/out")"
		admin delete pod "adm-$run-$n-1" --wait=false >/dev/null 2>&1
		return 1
	fi
	out=$(grep -v '^Warning:' "$TMP/out")
	case $out in
	*"ValidatingAdmissionPolicy 'paia-game-pods' with binding 'paia-game-pods' denied request: "*"$3"*) return 0 ;;
	esac
	diag "refused otherwise: $out"
	return 1
}
# created FILE: the gateway's create of FILE succeeds (its output shown when not).
created() {
	gw create -f "$1" >"$TMP/out" 2>&1 && return 0
	sed 's/^/#   /' "$TMP/out"
	return 1
}
case_refused() { check "refused: $1 ($3)" refused "$@"; }

# --- 1. the template's pod ------------------------------------------------------------
task=adm-$run-ok
pod "$task" >"$TMP/ok.json"
check "the template's pod, created as the gateway, is admitted" created "$TMP/ok.json"
cp "$TMP/out" "$TMP/ok.out"
sed 's/^/# /' "$TMP/ok.out"
check "... and exists" wait_for 30 gw get pod "$task-1"
check "Pod Security warns (level restricted) about the hostPath volumes only" sh -c \
	"grep -q '^Warning: would violate PodSecurity \"restricted:latest\": restricted volume types (volumes \"x11\", \"x11-auth\" use restricted volume type \"hostPath\")\$' '$TMP/ok.out' &&
	test \"\$(grep -c 'would violate PodSecurity' '$TMP/ok.out')\" = 1"
check "the namespace: enforce privileged, warn and audit restricted" test \
	"$(admin get namespace "$K8S_NAMESPACE" -o jsonpath='{.metadata.labels.pod-security\.kubernetes\.io/enforce}/{.metadata.labels.pod-security\.kubernetes\.io/warn}/{.metadata.labels.pod-security\.kubernetes\.io/audit}')" \
	= privileged/restricted/restricted
pod "adm-$run-init" 'i = json.loads(json.dumps(c)); i["name"] = "init"; s["initContainers"] = [i]' >"$TMP/init.json"
check "... and with an init container of the same shape" created "$TMP/init.json"

# --- 2. pods outside the shape, as the gateway ---------------------------------------------
registry="is not from an allowed registry (registry.example.net/paia/; the variable registries of this policy)"
case_refused "image from another registry" 'c["image"] = "docker.io/library/busybox:1"' \
	"image 'docker.io/library/busybox:1' $registry"
case_refused "image from a look-alike registry path" 'c["image"] = "registry.example.net/paia-other/x:1"' \
	"image 'registry.example.net/paia-other/x:1' $registry"
case_refused "privileged" 'c["securityContext"]["privileged"] = True; c["securityContext"].pop("allowPrivilegeEscalation")' \
	"container 'game' may not be privileged"
case_refused "privileged init container" \
	'i = json.loads(json.dumps(c)); i["name"] = "init"; i["securityContext"]["privileged"] = True; i["securityContext"].pop("allowPrivilegeEscalation"); s["initContainers"] = [i]' \
	"container 'init' may not be privileged"
case_refused "allowPrivilegeEscalation true" 'c["securityContext"]["allowPrivilegeEscalation"] = True' \
	"container 'game' must set allowPrivilegeEscalation: false"
case_refused "allowPrivilegeEscalation not set" 'c["securityContext"].pop("allowPrivilegeEscalation")' \
	"container 'game' must set allowPrivilegeEscalation: false"
case_refused "a capability added" 'c["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]' \
	"container 'game' must drop ALL capabilities and add none"
case_refused "capabilities not dropped" 'c["securityContext"].pop("capabilities")' \
	"container 'game' must drop ALL capabilities and add none"
case_refused "runAsNonRoot false" 's["securityContext"]["runAsNonRoot"] = False' \
	"securityContext must set runAsNonRoot: true and a runAsUser and runAsGroup other than 0 (root)"
case_refused "runAsUser 0" 's["securityContext"]["runAsUser"] = 0' \
	"securityContext must set runAsNonRoot: true and a runAsUser and runAsGroup other than 0 (root)"
case_refused "runAsGroup 0" 's["securityContext"]["runAsGroup"] = 0' \
	"securityContext must set runAsNonRoot: true and a runAsUser and runAsGroup other than 0 (root)"
case_refused "container runAsUser 0" 'c["securityContext"]["runAsUser"] = 0' \
	"container 'game' may not run as root (runAsNonRoot false, runAsUser or runAsGroup 0)"
case_refused "seccomp Unconfined" 's["securityContext"]["seccompProfile"]["type"] = "Unconfined"' \
	"securityContext.seccompProfile.type must be RuntimeDefault"
case_refused "fsGroup (it would chown the shared volume)" 's["securityContext"]["fsGroup"] = 1000' \
	"securityContext may not set fsGroup, supplementalGroups, sysctls"
case_refused "supplementalGroups" 's["securityContext"]["supplementalGroups"] = [0]' \
	"securityContext may not set fsGroup, supplementalGroups, sysctls"
case_refused "AppArmor unconfined (the old annotation)" \
	'p["metadata"]["annotations"]["container.apparmor.security.beta.kubernetes.io/game"] = "unconfined"' \
	"container 'game' must have readOnlyRootFilesystem: true and no seLinuxOptions, seccomp or AppArmor profile other than RuntimeDefault"
case_refused "a writable root file system" 'c["securityContext"]["readOnlyRootFilesystem"] = False' \
	"container 'game' must have readOnlyRootFilesystem: true"
case_refused "hostNetwork" 's["hostNetwork"] = True' "host namespaces are not allowed (hostNetwork set)"
case_refused "hostPID" 's["hostPID"] = True' "host namespaces are not allowed (hostPID set)"
case_refused "hostIPC" 's["hostIPC"] = True' "host namespaces are not allowed (hostIPC set)"
case_refused "a host port" 'c["ports"] = [{"containerPort": 22, "hostPort": 2222}]' \
	"host ports are not allowed"
case_refused "a probe that connects elsewhere from the node" \
	'c["readinessProbe"] = {"httpGet": {"host": "169.254.169.254", "path": "/", "port": 80}}' \
	"probes and lifecycle hooks may not name a host (the kubelet would connect from the node)"
case_refused "a lifecycle hook that connects elsewhere from the node" \
	'c["lifecycle"] = {"preStop": {"tcpSocket": {"host": "10.0.0.1", "port": 22}}}' \
	"probes and lifecycle hooks may not name a host"
case_refused "the node's / as a hostPath" \
	's["volumes"].append({"name": "root", "hostPath": {"path": "/"}}); c["volumeMounts"].append({"name": "root", "mountPath": "/host", "readOnly": True})' \
	"hostPath volume 'root' ('/', type '') is not allowed: only /tmp/.X11-unix, /var/lib/paia-display, type Directory"
case_refused "the X socket folder as a hostPath of another type" \
	'[v["hostPath"].update(type="DirectoryOrCreate") for v in s["volumes"] if v["name"] == "x11"]' \
	"hostPath volume 'x11' ('/tmp/.X11-unix', type 'DirectoryOrCreate') is not allowed"
case_refused "the X socket folder mounted writable" \
	'[m.pop("readOnly") for m in c["volumeMounts"] if m["name"] == "x11"]' \
	"hostPath volume 'x11' in container 'game' must be mounted readOnly: true, whole (no subPath)"
case_refused "the cookie folder mounted writable" \
	'[m.update(readOnly=False) for m in c["volumeMounts"] if m["name"] == "x11-auth"]' \
	"hostPath volume 'x11-auth' in container 'game' must be mounted readOnly: true"
case_refused "a subPath of the X socket folder" \
	'[m.update(subPath="X0") for m in c["volumeMounts"] if m["name"] == "x11"]' \
	"hostPath volume 'x11' in container 'game' must be mounted readOnly: true, whole (no subPath)"
case_refused "another PVC" \
	's["volumes"].append({"name": "other", "persistentVolumeClaim": {"claimName": "someone-else"}})' \
	"volume 'other' (claim 'someone-else') is not allowed: the only claim is paia-tasks"
case_refused "the PVC without a subPath (the gateway's whole state)" \
	'[m.pop("subPath") for m in c["volumeMounts"] if m["name"] == "workspace"]' \
	"the volume of claim paia-tasks must be mounted only at subPath tasks/adm-$run-$((n + 1)) (the task's folder; found ''"
case_refused "the PVC at subPath tasks (every task)" \
	'[m.update(subPath="tasks") for m in c["volumeMounts"] if m["name"] == "workspace"]' \
	"must be mounted only at subPath tasks/adm-$run-$((n + 1)) (the task's folder; found 'tasks'"
case_refused "the PVC at another task's folder" \
	'[m.update(subPath="tasks/someone-else") for m in c["volumeMounts"] if m["name"] == "workspace"]' \
	"must be mounted only at subPath tasks/adm-$run-$((n + 1)) (the task's folder; found 'tasks/someone-else'"
case_refused "the PVC at a subPathExpr" \
	'[(m.pop("subPath"), m.update(subPathExpr="tasks/$(PAIA_TASK_ID)")) for m in c["volumeMounts"] if m["name"] == "workspace"]' \
	"must be mounted only at subPath tasks/adm-$run-$((n + 1))"
case_refused "the PVC mounted a second time, whole" \
	'c["volumeMounts"].append({"name": "workspace", "mountPath": "/state"})' \
	"must be mounted only at subPath tasks/adm-$run-$((n + 1)) (the task's folder; found 'tasks/adm-$run-$((n + 1))', ''"
case_refused "a secret volume" \
	's["volumes"].append({"name": "creds", "secret": {"secretName": "paia-gateway"}})' \
	"volume 'creds' is not allowed: only the PVC paia-tasks, hostPath and emptyDir volumes"
case_refused "the gateway's own token in a projected volume" \
	's["serviceAccountName"] = "paia-gateway"; s["volumes"].append({"name": "tok", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}})' \
	"volume 'tok' is not allowed"
case_refused "an emptyDir without sizeLimit" '[v["emptyDir"].pop("sizeLimit") for v in s["volumes"] if v["name"] == "tmp"]' \
	"every emptyDir volume needs a sizeLimit"
case_refused "env from a secret" \
	'c["env"].append({"name": "PW", "valueFrom": {"secretKeyRef": {"name": "paia-gateway", "key": "kafka-password"}}})' \
	"container 'game' may not take its environment from secrets or configmaps (envFrom, valueFrom)"
case_refused "envFrom a secret" 'c["envFrom"] = [{"secretRef": {"name": "paia-gateway"}}]' \
	"container 'game' may not take its environment from secrets or configmaps"
case_refused "automountServiceAccountToken true" 's["automountServiceAccountToken"] = True' \
	"automountServiceAccountToken must be false"
case_refused "automountServiceAccountToken not set" 's.pop("automountServiceAccountToken")' \
	"automountServiceAccountToken must be false"
case_refused "no memory limit" 'c["resources"]["limits"].pop("memory")' \
	"container 'game' needs cpu and memory limits"
case_refused "no limits" 'c["resources"].pop("limits"); c["resources"].pop("requests")' \
	"container 'game' needs cpu and memory limits"
case_refused "no label paia.io/managed-by (out of the NetworkPolicy)" 'p["metadata"]["labels"].pop("paia.io/managed-by")' \
	"the labels paia.io/managed-by and paia.io/task-id are required"
case_refused "no activeDeadlineSeconds" 's.pop("activeDeadlineSeconds")' \
	"activeDeadlineSeconds is required"
check "every refused pod was refused before it existed" sh -c \
	"! '$KUBECTL' --kubeconfig '$K8S_ADMIN_KUBECONFIG' -n '$K8S_NAMESPACE' get pods -o name | grep -q '^pod/adm-$run-[0-9]*-1\$'"

# --- 3. admins; the gateway and the policy ---------------------------------------------------
pod "adm-admin-$run" 'p["metadata"]["name"] = "adm-admin-'"$run"'"; p["metadata"]["labels"].pop("paia.io/managed-by"); s["hostNetwork"] = True; c["securityContext"]["privileged"] = True; c["securityContext"].pop("allowPrivilegeEscalation")' \
	>"$TMP/admin.json"
check "an admin's pod outside the shape (privileged, hostNetwork) is admitted" sh -c \
	"'$KUBECTL' --kubeconfig '$K8S_ADMIN_KUBECONFIG' -n '$K8S_NAMESPACE' create -f '$TMP/admin.json' >/dev/null 2>&1"
check "an admin acting as the gateway (--as, dry run) is refused the same pod" sh -c \
	"! '$KUBECTL' --kubeconfig '$K8S_ADMIN_KUBECONFIG' -n '$K8S_NAMESPACE' create --dry-run=server \
		--as system:serviceaccount:$K8S_NAMESPACE:$K8S_SERVICE_ACCOUNT -f '$TMP/admin.json' >'$TMP/out' 2>&1 &&
	grep -q \"denied request: game pod: the labels paia.io/managed-by and paia.io/task-id are required\" '$TMP/out'"
check "the gateway may not change or delete the policy or its binding" sh -c \
	"for v in update delete; do for r in validatingadmissionpolicies validatingadmissionpolicybindings; do
		'$KUBECTL' --kubeconfig '$K8S_GATEWAY_KUBECONFIG' auth can-i \$v \$r.admissionregistration.k8s.io 2>/dev/null | grep -qx no || exit 1
	done; done"

tap_done
