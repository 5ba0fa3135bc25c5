# The gateway scripts of check-k8s: a gateway with runner.type = k8s on the
# test cluster (tests/env/k8s.sh start) and the test broker
# (tests/env/kafka.sh start). Sourced after nothing else:
#   . "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../kafka/lib.sh"
eval "$("${K8S_ENV:-$SRCDIR/tests/env/k8s.sh}" env)" || bail "no k8s env (tests/env/k8s.sh start)"

# k8s_gateway_conf CONF STATE_DIR NAME MAX_INFLIGHT GRACE_S: kafka_conf's
# configuration with the k8s runner in place of the local command (the
# gateway's kubeconfig, deploy/game-pod.json or $POD_TEMPLATE, the catch
# image, kwok's paia.io/fake- annotations from the task's params), then
# the script's own lines from standard input: sections may be opened
# again ([runner], [k8s]) and a key given again keeps its last value.
k8s_gateway_conf() {
	kafka_conf "$1" "$2" "$3" "$4" "$5"
	sed -i '/^command = /d' "$1"
	{
		cat <<CONF
[runner]
type = k8s
[k8s]
kubeconfig = $K8S_GATEWAY_KUBECONFIG
pod_template = ${POD_TEMPLATE:-$SRCDIR/deploy/game-pod.json}
default_image = registry.example.net/paia/catch:test
param_annotations = paia.io/fake-
CONF
		cat
	} >>"$1"
}

# ctl ARGS: paiactl on the script's gateway ($conf).
ctl() { "$PAIACTL" -c "$conf" "$@"; }
# admin ARGS: kubectl as the cluster's admin, in the gateway's namespace.
admin() { "$KUBECTL" --kubeconfig "$K8S_ADMIN_KUBECONFIG" -n "$K8S_NAMESPACE" "$@"; }
