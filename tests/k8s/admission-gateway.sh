#!/bin/bash
# The gateway (runner.type=k8s, the ServiceAccount's token) against the
# admission policy for game pods, on the real kube-apiserver of
# tests/env/k8s.sh and a real broker (tests/env/kafka.sh):
#  1. a game whose image is from the allowed registry runs and succeeds;
#  2. a game whose image is not (k8s.images points it elsewhere) is refused:
#     the task ends in error (invalid: it would be refused at any attempt,
#     so there is no second one) with the policy's message naming the
#     image, and no pod of it exists.
. "$(dirname "$0")/lib.sh"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-k8s-adm-gw.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/gateway.log
conf=$STATE/gateway.conf
k8s_gateway_conf "$conf" "$STATE/gw" k8sadm 2 10 <<CONF
[runner]
max_attempts = 2
[k8s]
images = elsewhere=docker.io/library/paiagym:1
pod_name_prefix = a$$
CONF
trap 'admin delete pods -l "paia.io/managed-by=k8sadm-$run" --wait=false >/dev/null 2>&1; cleanup' EXIT

ctl topics --create --partitions 1,1,1 >/dev/null || bail "cannot create topics at $KAFKA"
"$GATEWAY" -c "$conf" 2>>"$GW_LOG" &
GW_PID=$!
wait_for 60 ctl status || bail "gateway did not start"
mkdir -p "$STATE/programs"
P=$(program ok.sh 'exit 0')
quick='{"pod_annotations":{"paia.io/fake-duration":"100ms"}}'

ctl submit --id allowed --program "$P" --params "$quick" >/dev/null || bail "submit failed"
ctl submit --id elsewhere --game elsewhere --program "$P" --params "$quick" >/dev/null || bail "submit failed"

r=$(result_of allowed "" 90)
check "an image of the allowed registry: succeeded" test "$(jget "$r" 'r["status"]')" = succeeded
r=$(result_of elsewhere "" 90)
diag "elsewhere: $(jget "$r" 'r.get("error")')"
check "an image from elsewhere: error (invalid), not run again" \
	test "$(jget "$r" 'r["status"] + "/" + r["error"]["class"] + "/" + str(r["attempt"])')" = error/invalid/1
check "... the error is the policy's, naming the image" contains "$r" \
	"ValidatingAdmissionPolicy 'paia-game-pods' with binding 'paia-game-pods' denied request: game pod: image 'docker.io/library/paiagym:1' is not from an allowed registry"
check "... and no pod of it exists" \
	test -z "$(admin get pods -l "paia.io/managed-by=k8sadm-$run,paia.io/task-id=elsewhere" -o name)"
gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
