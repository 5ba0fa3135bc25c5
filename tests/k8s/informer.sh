#!/bin/bash
# tests/k8s/informer.sh: the k8s library (tests/k8s/informer-test.c)
# against the real kube-apiserver of tests/env/k8s.sh, which must be
# running (make check-k8s after tests/env/k8s.sh start): pods API, 500
# pods churned under an informer, API server restarted mid-watch, 410
# Gone with deletes missed meanwhile, bookmarks, a refused list. TAP.
# Skips when the environment is not running.
#
#   K8S_ENV_SH   the environment script (default $SRCDIR/tests/env/k8s.sh);
#                its own variables (K8S_DIR, K8S_PORT, ETCD_PORT) pass through
#   K8S_SCENARIOS  default "pods churn restart gone bookmark forbidden"
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
ENV_SH=${K8S_ENV_SH:-$SRCDIR/tests/env/k8s.sh}

if [ ! -f "$ENV_SH" ]; then
	echo "1..0 # SKIP no $ENV_SH"
	exit 0
fi
if ! bash "$ENV_SH" status >/dev/null 2>&1; then
	echo "1..0 # SKIP the test Kubernetes is not running ($ENV_SH start)"
	exit 0
fi
eval "$(bash "$ENV_SH" env)"
export KUBECONFIG=$K8S_ADMIN_KUBECONFIG K8S_GATEWAY_KUBECONFIG K8S_NAMESPACE
export K8S_RESTART_CMD="bash '$ENV_SH' restart-apiserver >&2"
export K8S_COMPACT_CMD="bash '$ENV_SH' compact >&2"
# shellcheck disable=SC2086
exec "$BUILDDIR/tests/k8s/informer-test" ${K8S_SCENARIOS:-pods churn restart gone bookmark forbidden}
