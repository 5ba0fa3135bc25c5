#!/bin/bash
# A real Kubernetes API for tests, without Docker or a kubelet: etcd 3.6,
# kube-apiserver and kube-scheduler (RBAC, TLS) and kwok playing four fake
# GPU nodes and the pods bound to them (Pending -> Running -> Succeeded or
# Failed, chosen per pod by annotations: tests/env/k8s/kwok-stages.yaml).
# deploy/k8s/ is applied, so the gateway's namespace, ServiceAccount and
# Role are the production ones.
#
# usage: tests/env/k8s.sh install|start|stop|status|env|compact|restart-apiserver
#
#   install   build the components once into $PAIA_TESTENV_CACHE: one
#             multi-call binary from the Go module in tests/env/k8s/
#             (kube-apiserver, kube-scheduler, kubectl, kwok, etcd)
#   start     install if needed, then start from an empty $K8S_DIR:
#             etcd, kube-apiserver, kube-scheduler, kwok; create the fake
#             GPU nodes, apply deploy/k8s/ (kubectl apply -k), bind the PVC paia-tasks to a
#             PV (no volume controller runs), write admin.kubeconfig and
#             gateway.kubeconfig (a TokenRequest token of the
#             ServiceAccount paia-gateway), and wait until all is ready;
#             a no-op when it already runs
#   stop      stop everything (SIGTERM, then SIGKILL) and remove
#             $K8S_DIR, so every start is a fresh cluster
#   status    exit 0 when every component runs and the API server is ready
#   env       print "export" lines for tests: eval "$(tests/env/k8s.sh env)"
#               KUBECONFIG, K8S_GATEWAY_KUBECONFIG   the gateway's identity
#               K8S_ADMIN_KUBECONFIG                  system:masters
#               K8S_SERVER, K8S_CA_FILE, K8S_NAMESPACE, K8S_SERVICE_ACCOUNT,
#               K8S_NODES (names), KUBECTL (the kubectl binary),
#               K8S_ETCD_ENDPOINT, K8S_WATCH_CACHE, K8S_DIR
#             (the settings the running cluster was started with)
#   compact   compact etcd at its current revision (all history older than
#             now is gone), print that revision; with K8S_WATCH_CACHE=false
#             a watch or list from an older resourceVersion then gets 410
#             Gone; with the watch cache (the default), use
#             restart-apiserver as well
#   restart-apiserver
#             stop and start only kube-apiserver, keeping etcd and its
#             data: the new watch cache starts at the current revision, so
#             a watch from any older resourceVersion gets 410 Gone
#             ("too old resource version") and informers must relist
#
# Pod logs: kwok serves them as the nodes' kubelet, from files. Create, as
# admin, a kwok Logs object named like the pod, in its namespace:
#   apiVersion: kwok.x-k8s.io/v1alpha1
#   kind: Logs
#   metadata: {name: POD, namespace: paia}
#   spec: {logs: [{containers: [game], logsFile: /abs/file, follow: true}]}
# where the file is in the CRI log format, one line per log line:
#   2026-01-02T03:04:05.000000000Z stdout F the text
# and GET pods/POD/log (follow too) returns its text through the API server.
#
# environment:
#   PAIA_TESTENV_CACHE  build cache (default $HOME/.cache/paia-testenv);
#                       the binary in .../k8s-<version>/bin, Go's module and
#                       build caches in .../k8s-<version>/go (delete the
#                       folder to rebuild from nothing)
#   K8S_DIR             data, certificates, kubeconfigs, logs, pid files
#                       (default ${TMPDIR:-/tmp}/paia-k8s)
#   K8S_PORT            kube-apiserver's secure port (default 16443)
#                       kwok's kubelet server (pod logs) listens on K8S_PORT+1
#   ETCD_PORT           etcd's client port (default 12379); its peer port is
#                       ETCD_PORT+1. Everything binds 127.0.0.1 only, and no
#                       other port is opened, so two instances with other
#                       K8S_DIR, K8S_PORT and ETCD_PORT run side by side
#   K8S_NODES_COUNT     fake GPU nodes (default 4), paia-gpu-1..N
#   K8S_NODE_GPUS       nvidia.com/gpu of each node (default 1)
#   K8S_WATCH_CACHE     kube-apiserver --watch-cache (default true)
#   K8S_START_TIMEOUT   seconds to wait for readiness, counted from when
#                       etcd starts, after any build (default 180)
#   K8S_BUILD_JOBS      go build -p (default 2)
#   GO                  the go command (default: go on PATH, /usr/local/go/bin/go)
#
# Versions are pinned in tests/env/k8s/go.mod: Kubernetes 1.36.3, etcd
# 3.6.16, kwok 0.8.0, built with the Go 1.26 on the machine
# (GOTOOLCHAIN=local); the module cache needs about 1.1 GB, the build
# cache 2.7 GB, the binary 130 MB.
#
# Timings on the 2-core CI machine (measured 2026-11-28, go1.26.8): a cold
# install (empty cache: 612 MB of module downloads, then compiling about
# 3,000 packages: 900 CPU-seconds) took 21 minutes while other jobs
# loaded the machine, 12.5 minutes in a quieter moment; a rebuild after
# main.go changes (warm Go caches) 15-30 s; a warm start 9-15 s,
# restart-apiserver 5-10 s, stop about 4 s.
#
# What is not there: no kubelet (kwok plays pods: no containers run, no
# exec; logs only as above), no kube-controller-manager (no Jobs, Deployments, PV
# binding, garbage collection or service-account tokens controller; the
# ServiceAccount admission plugin is off), no kube-proxy, no CNI.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
MOD=$HERE/k8s
TOP=$(cd "$HERE/../.." && pwd)
DEPLOY=${K8S_DEPLOY_DIR:-$TOP/deploy/k8s}

K8S_VERSION=$(sed -n 's/^[[:space:]]*k8s\.io\/kubernetes v\([0-9.]*\)$/\1/p' "$MOD/go.mod" | head -n 1)
[ -n "$K8S_VERSION" ] || { echo "k8s: no k8s.io/kubernetes version in $MOD/go.mod" >&2; exit 1; }
CACHE=${PAIA_TESTENV_CACHE:-${HOME:-/tmp}/.cache/paia-testenv}
INST=$CACHE/k8s-$K8S_VERSION
BIN=$INST/bin
MULTI=paia-k8s-testenv
LOGS_CRD=kwok.x-k8s.io_logs.yaml
STAMP=$INST/.installed
K8S_DIR=${K8S_DIR:-${TMPDIR:-/tmp}/paia-k8s}
K8S_PORT=${K8S_PORT:-16443}
ETCD_PORT=${ETCD_PORT:-12379}
PEER_PORT=$((ETCD_PORT + 1))
KWOK_PORT=$((K8S_PORT + 1))
NODES_COUNT=${K8S_NODES_COUNT:-4}
NODE_GPUS=${K8S_NODE_GPUS:-1}
WATCH_CACHE=${K8S_WATCH_CACHE:-true}
START_TIMEOUT=${K8S_START_TIMEOUT:-180}
BUILD_JOBS=${K8S_BUILD_JOBS:-2}
NAMESPACE=paia
SERVICE_ACCOUNT=paia-gateway
SERVER=https://127.0.0.1:$K8S_PORT
ETCD=http://127.0.0.1:$ETCD_PORT
PKI=$K8S_DIR/pki
ADMIN_KC=$K8S_DIR/admin.kubeconfig
GATEWAY_KC=$K8S_DIR/gateway.kubeconfig
MARK=$K8S_DIR/.paia-k8s-testenv
PARTS="etcd kube-apiserver kube-scheduler kwok"

ENV_NAME=k8s
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

# ---------------------------------------------------------------- helpers --

# our_pid PART: print PART's pid when its pid file names a live PART of
# this K8S_DIR (every part gets a path below K8S_DIR among its arguments).
# (Until setsid has exec'd the part, its command line still starts with "setsid":
# a poll in that instant is not "the part exited".)
our_pid() { pid_of "$K8S_DIR/$1.pid" "^(setsid )?[^ ]*/$1 .*$K8S_DIR/"; }

kubectl_admin() { "$BIN/kubectl" --kubeconfig "$ADMIN_KC" "$@"; }

apiserver_ready() {
	[ "$(curl -s --max-time 5 --cacert "$PKI/ca.crt" "$SERVER/readyz" 2>/dev/null)" = ok ]
}

etcd_healthy() {
	curl -s --max-time 5 "$ETCD/health" 2>/dev/null | grep -q '"health":"true"'
}

# wait_until WHAT PART COMMAND...: poll COMMAND until it succeeds; fail the
# start when PART died or $START_TIMEOUT passed.
wait_until() {
	local what=$1 part=$2 deadline=$((T0 + START_TIMEOUT))
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		our_pid "$part" >/dev/null || fail_start "$part exited while waiting for $what" "$part"
		[ "$(date +%s)" -lt "$deadline" ] || fail_start "no $what after $START_TIMEOUT s" "$part"
		sleep 0.3
	done
}

fail_start() {
	echo "k8s: $1" >&2
	if [ -n "${2:-}" ] && [ -f "$K8S_DIR/$2.log" ]; then
		echo "---- last 30 lines of $K8S_DIR/$2.log" >&2
		tail -n 30 "$K8S_DIR/$2.log" >&2 || true
		echo "----" >&2
	fi
	stop_parts
	exit 1
}

# ---------------------------------------------------------------- install --

stamp_text() {
	echo "k8s $K8S_VERSION $(cat "$MOD/go.mod" "$MOD/go.sum" "$MOD/main.go" | sha256sum | cut -c1-64)"
}

installed() {
	[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_text)" ] && [ -x "$BIN/$MULTI" ] &&
		[ -f "$BIN/$LOGS_CRD" ]
}

do_install() {
	local go gov t0 tmp part build_pid kwok
	installed && return 0
	go=$(find_go 26) || die "no Go 1.26 or later (tests/env/k8s/go.mod needs it; Debian's golang-go" \
		"is older): install one, e.g. in /usr/local/go, or set GO=/path/to/go"
	gov=$(GOTOOLCHAIN=local "$go" env GOVERSION)
	command -v openssl >/dev/null && command -v curl >/dev/null ||
		die "openssl and curl are needed (Debian: apt-get install -y openssl curl)"
	mkdir -p "$INST"
	# One installer at a time.
	exec 9>"$CACHE/.k8s-$K8S_VERSION.lock"
	if command -v flock >/dev/null; then flock 9; fi
	if installed; then exec 9>&-; return 0; fi

	rm -rf "$INST/.build."*
	t0=$(date +%s)
	tmp=$(mktemp -d "$INST/.build.XXXXXX")
	cp "$MOD/go.mod" "$MOD/go.sum" "$MOD/main.go" "$tmp/"
	say "building Kubernetes $K8S_VERSION, etcd and kwok with $gov into $BIN" \
		"(a cold build takes 15-20 minutes on 2 cores; log: $INST/build.log)"
	build_pid=
	trap '[ -z "$build_pid" ] || kill -TERM "$build_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
	trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
	# The build is reproducible from go.mod/go.sum alone: no toolchain
	# download, no go.mod edits; the module cache stays writable so that
	# rm -rf of the cache works.
	(cd "$tmp" && exec env GOTOOLCHAIN=local GOFLAGS="-mod=readonly -modcacherw -buildvcs=false" \
		GOMODCACHE="$INST/go/mod" GOCACHE="$INST/go/cache" CGO_ENABLED=0 \
		"$go" build -p "$BUILD_JOBS" -trimpath -o "$tmp/$MULTI" \
		-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION
			-X k8s.io/component-base/version.gitMajor=${K8S_VERSION%%.*}
			-X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)
			-X k8s.io/component-base/version.gitTreeState=clean" .) >"$INST/build.log" 2>&1 &
	build_pid=$!
	if ! wait "$build_pid"; then
		build_pid=
		tail -n 40 "$INST/build.log" >&2
		die "go build failed"
	fi
	build_pid=
	"$tmp/$MULTI" kube-apiserver --version 2>/dev/null | grep -q "v$K8S_VERSION" ||
		die "the built kube-apiserver does not report v$K8S_VERSION"
	rm -rf "$INST/bin"
	mkdir -p "$tmp/bin"
	# kwok's Logs CRD, from the kwok module the binary was built from.
	kwok=$(sed -n 's/^[[:space:]]*sigs\.k8s\.io\/kwok \(v[0-9.]*\)$/\1/p' "$MOD/go.mod" | head -n 1)
	cp "$INST/go/mod/sigs.k8s.io/kwok@$kwok/kustomize/crd/bases/$LOGS_CRD" "$tmp/bin/" ||
		die "no $LOGS_CRD in the kwok module $kwok"
	mv "$tmp/$MULTI" "$tmp/bin/"
	for part in $PARTS kubectl; do ln -s "$MULTI" "$tmp/bin/$part"; done
	mv -T "$tmp/bin" "$BIN"
	rm -rf "$tmp"
	stamp_text >"$STAMP"
	trap - EXIT HUP INT TERM
	exec 9>&-
	say "installed in $BIN: $(du -sm "$BIN/$MULTI" | cut -f1) MB, $(($(date +%s) - t0)) s"
}

# ------------------------------------------------------------------ start --

make_pki() {
	mkdir -p "$PKI" || return 1
	(
		cd "$PKI" && umask 077 &&
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 \
			-subj "/CN=paia-testenv-ca" -addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null &&
		openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
			-subj "/CN=kube-apiserver" 2>/dev/null &&
		printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc" \
			"extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature,keyEncipherment" \
			"basicConstraints=CA:FALSE" >apiserver.ext &&
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out apiserver.crt -days 30 -extfile apiserver.ext 2>/dev/null &&
		# kwok's kubelet server, checked by the API server, which
		# authenticates to it with a client certificate (as to a kubelet).
		openssl req -newkey rsa:2048 -nodes -keyout kubelet.key -out kubelet.csr \
			-subj "/CN=paia-kwok-kubelet" 2>/dev/null &&
		printf '%s\n' "subjectAltName=IP:127.0.0.1" "extendedKeyUsage=serverAuth" \
			"basicConstraints=CA:FALSE" >kubelet.ext &&
		openssl x509 -req -in kubelet.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out kubelet.crt -days 30 -extfile kubelet.ext 2>/dev/null &&
		openssl req -newkey rsa:2048 -nodes -keyout kubelet-client.key -out kubelet-client.csr \
			-subj "/O=system:masters/CN=kube-apiserver-kubelet-client" 2>/dev/null &&
		printf '%s\n' "extendedKeyUsage=clientAuth" "basicConstraints=CA:FALSE" >kubelet-client.ext &&
		openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out kubelet-client.crt -days 30 -extfile kubelet-client.ext 2>/dev/null &&
		openssl genrsa -out sa.key 2048 2>/dev/null &&
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null &&
		# The admin token: never printed, only in this file and the kubeconfig.
		printf '%s,paia-admin,paia-admin,"system:masters"\n' \
			"$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >tokens.csv &&
		chmod 644 ca.crt
	)
}

# write_kubeconfig FILE USER TOKEN [NAMESPACE]
write_kubeconfig() {
	(
		umask 077
		cat >"$1" <<EOF
# written by tests/env/k8s.sh
apiVersion: v1
kind: Config
clusters:
- name: paia-test
  cluster:
    server: $SERVER
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $2
  user:
    token: $3
contexts:
- name: $2@paia-test
  context:
    cluster: paia-test
    user: $2
    namespace: ${4:-default}
current-context: $2@paia-test
EOF
	)
}

# spawn PART ARGS...: start PART in the background, detached.
spawn() {
	local part=$1
	shift
	# setsid: the parts outlive this script and the caller's signals.
	setsid "$BIN/$part" "$@" >>"$K8S_DIR/$part.log" 2>&1 </dev/null 9>&- &
	local pid=$! i
	echo "$pid" >"$K8S_DIR/$part.pid"
	# Until the part has been exec'd, its pid shows this shell's or setsid's
	# command line: wait for it (or its end), so that a first poll does not
	# take "not yet" for "exited" (it did once, under a loaded CI).
	for i in $(seq 500); do
		if our_pid "$part" >/dev/null || ! alive "$pid"; then
			break
		fi
		sleep 0.01
	done
}

start_etcd() {
	spawn etcd --name paia-k8s --data-dir "$K8S_DIR/etcd" \
		--listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
		--listen-peer-urls "http://127.0.0.1:$PEER_PORT" \
		--initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
		--initial-cluster "paia-k8s=http://127.0.0.1:$PEER_PORT" \
		--initial-cluster-state new --initial-cluster-token paia-k8s \
		--watch-progress-notify-interval 5s \
		--unsafe-no-fsync --snapshot-count 10000 --log-level warn
	wait_until "healthy etcd on $ETCD" etcd etcd_healthy
}

start_apiserver() {
	spawn kube-apiserver --etcd-servers "$ETCD" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$K8S_PORT" \
		--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
		--cert-dir "$PKI" --client-ca-file "$PKI/ca.crt" \
		--token-auth-file "$PKI/tokens.csv" --authorization-mode RBAC \
		--service-account-issuer "$SERVER" --service-account-key-file "$PKI/sa.pub" \
		--service-account-signing-key-file "$PKI/sa.key" \
		--service-cluster-ip-range 10.0.0.0/24 --endpoint-reconciler-type none \
		--disable-admission-plugins ServiceAccount,TaintNodesByCondition --allow-privileged=true \
		--kubelet-preferred-address-types InternalIP \
		--kubelet-certificate-authority "$PKI/ca.crt" \
		--kubelet-client-certificate "$PKI/kubelet-client.crt" \
		--kubelet-client-key "$PKI/kubelet-client.key" \
		--watch-cache="$WATCH_CACHE" --profiling=false --v=1
	wait_until "ready kube-apiserver on $SERVER" kube-apiserver apiserver_ready
}

nodes_yaml() {
	local i
	for i in $(seq 1 "$NODES_COUNT"); do
		cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: paia-gpu-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: paia-gpu-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
    nvidia.com/gpu.present: "true"
    nvidia.com/gpu.count: "$NODE_GPUS"
    nvidia.com/gpu.product: Fake-GPU
spec:
  taints:
  - key: kwok.x-k8s.io/node
    value: fake
    effect: NoSchedule
  - key: nvidia.com/gpu
    value: present
    effect: NoSchedule
status:
  capacity: &res
    cpu: "16"
    memory: 64Gi
    ephemeral-storage: 500Gi
    pods: "110"
    nvidia.com/gpu: "$NODE_GPUS"
  allocatable: *res
---
EOF
	done
}

# The PVC of deploy/k8s/20-pvc.yaml is bound by hand to a PV, as a
# provisioner would (no volume controller runs here); kube-scheduler
# does not place pods with an unbound claim.
bind_pvc() {
	local cap
	cap=$(kubectl_admin -n "$NAMESPACE" get pvc paia-tasks -o jsonpath='{.spec.resources.requests.storage}') || return 1
	kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata:
  name: paia-tasks-testenv
spec:
  capacity:
    storage: $cap
  accessModes: ["ReadWriteMany"]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath:
    path: $K8S_DIR/volume
  claimRef:
    namespace: $NAMESPACE
    name: paia-tasks
EOF
	[ $? = 0 ] || return 1
	kubectl_admin -n "$NAMESPACE" patch pvc paia-tasks --type merge \
		-p '{"metadata":{"annotations":{"pv.kubernetes.io/bind-completed":"yes"}},"spec":{"volumeName":"paia-tasks-testenv"}}' >/dev/null || return 1
	kubectl_admin -n "$NAMESPACE" patch pvc paia-tasks --subresource status --type merge \
		-p "{\"status\":{\"phase\":\"Bound\",\"accessModes\":[\"ReadWriteMany\"],\"capacity\":{\"storage\":\"$cap\"}}}" >/dev/null || return 1
	kubectl_admin patch pv paia-tasks-testenv --subresource status --type merge \
		-p '{"status":{"phase":"Bound"}}' >/dev/null
}

nodes_ready() {
	local n
	n=$(kubectl_admin get nodes -l type=kwok \
		-o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
		grep -c '^True$') || true
	[ "$n" -eq "$NODES_COUNT" ]
}

do_start() {
	local p part missing=0 running=0 token t_start
	t_start=$(date +%s)
	for part in $PARTS; do
		if our_pid "$part" >/dev/null; then running=$((running + 1)); else missing=1; fi
	done
	if [ "$missing" = 0 ] && apiserver_ready; then
		say "already running on $SERVER"
		return 0
	fi
	# Half a cluster (a crash, a killed start): start again from nothing.
	[ "$running" = 0 ] || do_stop
	do_install
	for p in "$K8S_PORT" "$KWOK_PORT" "$ETCD_PORT" "$PEER_PORT"; do
		port_open "$p" && die "127.0.0.1:$p is already in use by another process"
	done
	[ ! -e "$K8S_DIR" ] || [ -f "$MARK" ] ||
		die "$K8S_DIR exists and was not made by this script: remove it or set K8S_DIR"
	rm -rf "$K8S_DIR"
	mkdir -p "$K8S_DIR/volume"
	: >"$MARK"
	make_pki || die "openssl failed to make the certificates"
	write_kubeconfig "$ADMIN_KC" paia-admin "$(cut -d, -f1 "$PKI/tokens.csv")"

	# START_TIMEOUT counts from the first server process: a cold install
	# above takes minutes.
	T0=$(date +%s)
	start_etcd
	start_apiserver
	spawn kube-scheduler --kubeconfig "$ADMIN_KC" --leader-elect=false \
		--secure-port 0 --profiling=false --v=1
	wait_until "the default namespace" kube-apiserver kubectl_admin get namespace default
	kubectl_admin apply -f "$BIN/$LOGS_CRD" >/dev/null || fail_start "cannot create kwok's Logs CRD" kube-apiserver
	wait_until "kwok's Logs CRD" kube-apiserver kubectl_admin get logs.kwok.x-k8s.io -A
	spawn kwok --kubeconfig "$ADMIN_KC" --config "$MOD/kwok-stages.yaml" \
		--manage-all-nodes=false \
		--manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
		--node-ip 127.0.0.1 --cidr 10.244.0.0/16 \
		--server-address "127.0.0.1:$KWOK_PORT" --node-port "$KWOK_PORT" \
		--tls-cert-file "$PKI/kubelet.crt" --tls-private-key-file "$PKI/kubelet.key" \
		--enable-crds Logs
	nodes_yaml | kubectl_admin apply -f - >/dev/null || fail_start "cannot create the nodes" kube-apiserver
	wait_until "$NODES_COUNT Ready nodes" kwok nodes_ready
	# A kustomize base (deploy/k8s/kustomization.yaml), as operators apply it.
	kubectl_admin apply -k "$DEPLOY" >"$K8S_DIR/deploy.log" 2>&1 ||
		{ cat "$K8S_DIR/deploy.log" >&2; fail_start "kubectl apply -k $DEPLOY failed"; }
	bind_pvc || fail_start "cannot bind the PVC paia-tasks" kube-apiserver
	token=$(kubectl_admin -n "$NAMESPACE" create token "$SERVICE_ACCOUNT" --duration 48h) ||
		fail_start "no token for the ServiceAccount $SERVICE_ACCOUNT" kube-apiserver
	write_kubeconfig "$GATEWAY_KC" "$SERVICE_ACCOUNT" "$token" "$NAMESPACE"
	our_pid kube-scheduler >/dev/null || fail_start "kube-scheduler exited" kube-scheduler
	our_pid kwok >/dev/null || fail_start "kwok exited" kwok
	do_env >"$K8S_DIR/env.sh.tmp" && mv "$K8S_DIR/env.sh.tmp" "$K8S_DIR/env.sh"
	say "ready on $SERVER (Kubernetes $K8S_VERSION, $NODES_COUNT fake GPU nodes," \
		"namespace $NAMESPACE; ready $(($(date +%s) - T0)) s after etcd started," \
		"$(($(date +%s) - t_start)) s in all); eval \"\$($0 env)\""
}

# ------------------------------------------------------------ stop/status --

# stop_part PART [GRACE_S]: SIGTERM, SIGKILL after GRACE_S (default 15).
stop_part() {
	local pid
	pid=$(our_pid "$1") || { rm -f "$K8S_DIR/$1.pid"; return 0; }
	stop_pid "$pid" "${2:-15}" TERM "$1"
	rm -f "$K8S_DIR/$1.pid"
}

stop_parts() {
	local part
	stop_part kwok
	stop_part kube-scheduler
	stop_part kube-apiserver 3
	stop_part etcd
}

do_stop() {
	stop_parts
	if [ -f "$MARK" ]; then
		rm -rf "$K8S_DIR"
		say "stopped; $K8S_DIR removed"
	else
		say "not running"
	fi
}

do_status() {
	local part bad=
	for part in $PARTS; do our_pid "$part" >/dev/null || bad="$bad $part"; done
	if [ -z "$bad" ] && apiserver_ready; then
		say "running on $SERVER (etcd $ETCD)"
		return 0
	fi
	say "not running on $SERVER${bad:+ (down:$bad)}"
	return 1
}

# do_env: the settings of the running cluster (saved by start), else
# those that start would use.
do_env() {
	local nodes
	if [ -f "$K8S_DIR/env.sh" ]; then
		cat "$K8S_DIR/env.sh"
		return 0
	fi
	nodes=$(seq -f 'paia-gpu-%g' 1 "$NODES_COUNT" | tr '\n' ' ')
	cat <<EOF
export K8S_DIR='$K8S_DIR'
export K8S_SERVER='$SERVER'
export K8S_CA_FILE='$PKI/ca.crt'
export K8S_ADMIN_KUBECONFIG='$ADMIN_KC'
export K8S_GATEWAY_KUBECONFIG='$GATEWAY_KC'
export KUBECONFIG='$GATEWAY_KC'
export K8S_NAMESPACE='$NAMESPACE'
export K8S_SERVICE_ACCOUNT='$SERVICE_ACCOUNT'
export K8S_NODES='${nodes% }'
export K8S_ETCD_ENDPOINT='$ETCD'
export K8S_WATCH_CACHE='$WATCH_CACHE'
export KUBECTL='$BIN/kubectl'
EOF
}

# ------------------------------------------------------ 410 Gone helpers --

do_compact() {
	local rev out
	etcd_healthy || die "etcd is not running on $ETCD"
	# etcd's JSON gateway: any range answers with the current revision.
	out=$(curl -s --max-time 10 -X POST "$ETCD/v3/kv/range" -d '{"key":"AA==","limit":1}') ||
		die "etcd range failed"
	rev=$(echo "$out" | sed -n 's/.*"revision":"\([0-9]*\)".*/\1/p')
	[ -n "$rev" ] || die "no revision in etcd's answer: $out"
	out=$(curl -s --max-time 30 -X POST "$ETCD/v3/kv/compaction" \
		-d "{\"revision\":\"$rev\",\"physical\":true}") || die "etcd compaction failed"
	case $out in *'"error"'* | *'"code"'*) die "etcd compaction at $rev: $out" ;; esac
	say "etcd compacted at revision $rev"
	echo "$rev"
}

do_restart_apiserver() {
	our_pid etcd >/dev/null || die "etcd is not running: start first"
	T0=$(date +%s)
	stop_part kube-apiserver 3
	start_apiserver
	say "kube-apiserver restarted ($(($(date +%s) - T0)) s)"
}

case ${1:-} in
install) do_install; installed && say "Kubernetes $K8S_VERSION installed in $BIN" ;;
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
env) do_env ;;
compact) do_compact ;;
restart-apiserver) do_restart_apiserver ;;
*)
	echo "usage: $0 install|start|stop|status|env|compact|restart-apiserver" >&2
	exit 2
	;;
esac
