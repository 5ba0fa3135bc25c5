#!/bin/bash
# The gateway with runner.type=k8s on a real kube-apiserver whose pods
# kwok plays (tests/env/k8s.sh start) and a real broker (tests/env/kafka.sh
# start), with the gateway ServiceAccount's token: production's RBAC.
#  1. 200 tasks over 4 fake GPU nodes: one result each, one pod each;
#  2. exit code 3 -> failed; deadline -> timeout; unschedulable -> retried,
#     then error naming the reason; a pod deleted by hand -> retried;
#  3. kill -9 of the gateway mid-run and a restart: pods adopted, never a
#     second pod for the same attempt (counted on the API server);
#     /metrics counts the pods created, adopted and the API requests;
#  4. a Role without "watch": the gateway stops naming the permission.
. "$(dirname "$0")/lib.sh"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-k8s-gw.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/gateway.log
conf=$STATE/gateway.conf
# max_inflight = the GPUs of the 4 fake nodes: pods do not wait for a GPU.
# The gateway's tasks/ folder is what the pods mount as the shared volume.
k8s_gateway_conf "$conf" "$STATE/gw" k8sgw 4 10 <<CONF
[runner]
max_attempts = 2
[k8s]
unschedulable_s = 10
deadline_slack_s = 2
pod_ttl_s = 3600
pod_name_prefix = t$$
CONF
HPORT=$(free_port)
printf '[health]\nlisten = 127.0.0.1:%s\n' "$HPORT" >> "$conf"
# metric NAME: the value of a series of the gateway's /metrics (0 when absent).
metric() { curl -s "http://127.0.0.1:$HPORT/metrics" | awk -v n="$1" '$1 == n {v = $2} END {print v + 0}'; }
start() {
	echo "--- start $(date +%T.%N)" >> "$GW_LOG"
	"$GATEWAY" -c "$conf" 2>>"$GW_LOG" &
	GW_PID=$!
	wait_for 60 ctl status || bail "gateway did not start"
}
# pods_of PREFIX: names of this run's pods whose task id starts with PREFIX.
pods_of() { admin get pods -l "paia.io/managed-by=k8sgw-$run" -o name | sed 's|^pod/||' | grep "^t$$-$1" ; }
# result_field ID EXPR
result_field() { jget "$(result_of "$1" "" 90)" "$2"; }

ctl topics --create --partitions 6,3,1 >/dev/null || bail "cannot create topics at $KAFKA"
start
mkdir -p "$STATE/programs"
P=$(program ok.sh 'exit 0')
quick='{"pod_annotations":{"paia.io/fake-duration":"100ms"}}'

# --- 1. 200 tasks over 4 GPU nodes ---------------------------------------------------
ctl submit --id many --count 200 --program "$P" --params "$quick" >/dev/null || bail "submit failed"
check "200 tasks have a result" wait_for 300 at_least 200
check "each exactly once, succeeded" exactly_once many 200
n=$(pods_of many- | wc -l)
check "one pod per task on the API server ($n)" test "$n" -eq 200
nodes=$(admin get pods -l "paia.io/managed-by=k8sgw-$run" -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u | grep -c paia-gpu)
check "the pods ran on all 4 GPU nodes ($nodes)" test "$nodes" -eq 4
pod=$(pods_of many-1 | head -1)
sec=$(admin get pod "$pod" -o jsonpath='{.spec.automountServiceAccountToken} {.spec.containers[0].securityContext.allowPrivilegeEscalation} {.spec.containers[0].resources.limits.nvidia\.com/gpu} {.metadata.labels.paia\.io/task-id} {.metadata.annotations.paia\.io/kafka-offset}')
diag "pod $pod: $sec"
check "the pod has no token, no privilege escalation, a GPU, its labels" \
    sh -c "case '$sec' in 'false false 1 many-1 '[0-9]*) exit 0;; esac; exit 1"
created=$(metric paia_k8s_pods_created_total)
requests=$(metric paia_k8s_api_requests_total)
diag "/metrics: paia_k8s_pods_created_total $created, paia_k8s_api_requests_total $requests"
check "/metrics counts the pods created and the API requests" \
    sh -c "[ '$created' -ge 200 ] && [ '$requests' -ge 200 ]"

# --- 2. outcomes ---------------------------------------------------------------------
ctl submit --id exit3 --program "$P" --params '{"pod_annotations":{"paia.io/fake-exit-code":"3"}}' >/dev/null
ctl submit --id slow --program "$P" --timeout 2 --params '{"pod_annotations":{"paia.io/fake-duration":"forever"}}' >/dev/null
ctl submit --id nofit --program "$P" --gpu 16 --params "$quick" >/dev/null
ctl submit --id evicted --program "$P" --params '{"pod_annotations":{"paia.io/fake-evict":"true","paia.io/fake-duration":"300ms"}}' >/dev/null
r=$(result_of exit3 "" 60)
check "exit code 3 -> failed, class user" test "$(jget "$r" 'r["status"] + "/" + r["error"]["class"]')" = "failed/user"
check "the error says the exit code" contains "$r" "exited with code 3"
r=$(result_of slow "" 60)
check "past its deadline -> timeout" test "$(jget "$r" 'r["status"]')" = "timeout"
r=$(result_of nofit "" 60)
check "unschedulable -> retried, then error (attempt 2)" test "$(jget "$r" 'r["status"] + "/" + str(r["attempt"])')" = "error/2"
check "the error names why it does not fit" contains "$r" "Insufficient nvidia.com/gpu"
check "the unschedulable pods were deleted" sh -c "! admin get pod \$(echo $(pods_of nofit) | head -1) >/dev/null 2>&1" 
r=$(result_of evicted "" 60)
check "evicted -> next attempt" test "$(jget "$r" 'str(r["attempt"])')" = "2"
ctl submit --id byhand --program "$P" --params '{"pod_annotations":{"paia.io/fake-duration":"6s"}}' >/dev/null
wait_for 30 sh -c "[ \"\$($KUBECTL --kubeconfig $K8S_ADMIN_KUBECONFIG -n $K8S_NAMESPACE get pod $(echo t$$-byhand-1) -o jsonpath='{.status.phase}' 2>/dev/null)\" = Running ]" ||
	diag "byhand never ran"
admin delete pod t$$-byhand-1 --wait=false >/dev/null
r=$(result_of byhand "" 60)
check "a pod deleted by hand -> retried, succeeded as attempt 2" \
    test "$(jget "$r" 'r["status"] + "/" + str(r["attempt"])')" = "succeeded/2"

# --- 3. kill -9 mid-run: pods adopted -------------------------------------------------
ctl submit --id adopt --count 20 --program "$P" --params '{"pod_annotations":{"paia.io/fake-duration":"3s"}}' >/dev/null
wait_for 60 sh -c "grep -q 'game pod running.*task=adopt-' '$GW_LOG'" || bail "no adopt- pod ran"
kill -KILL "$GW_PID"; wait "$GW_PID" 2>/dev/null
running=$(pods_of adopt- | wc -l)
diag "killed the gateway with $running adopt- pods created"
start
check "20 tasks have a result after kill -9" wait_for 180 sh -c "[ \$($PAIACTL -c $conf results --raw | grep -c '\"task_id\":\"adopt-') -ge 20 ]"
check "each exactly once, succeeded" exactly_once adopt 20
check "pods were adopted after the restart" grep -q 'game pod exists: adopted' "$GW_LOG"
adopted=$(metric paia_k8s_pods_adopted_total)
check "... and /metrics counts them (paia_k8s_pods_adopted_total $adopted)" test "$adopted" -ge 1
second=$(pods_of adopt- | grep -c -- '-2$')
check "never a second pod for an attempt: no attempt-2 pods ($second)" test "$second" -eq 0
check "one pod per task ($(pods_of adopt- | wc -l))" test "$(pods_of adopt- | wc -l)" -eq 20
gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0

# --- 4. a Role without watch -------------------------------------------------------------
admin create serviceaccount paia-nowatch-$$ >/dev/null
admin create role paia-nowatch-$$ --verb=get,list,create,delete --resource=pods >/dev/null
admin create rolebinding paia-nowatch-$$ --role=paia-nowatch-$$ --serviceaccount="$K8S_NAMESPACE:paia-nowatch-$$" >/dev/null
token=$(admin create token paia-nowatch-$$) || bail "no token"
kc=$STATE/nowatch.kubeconfig
cp "$K8S_GATEWAY_KUBECONFIG" "$kc"
"$KUBECTL" --kubeconfig "$kc" config set-credentials nowatch --token="$token" >/dev/null
"$KUBECTL" --kubeconfig "$kc" config set-context "$("$KUBECTL" --kubeconfig "$kc" config current-context)" --user=nowatch >/dev/null
sed -i "s|^kubeconfig = .*|kubeconfig = $kc|" "$conf"
out=$(timeout 60 "$GATEWAY" -c "$conf" 2>&1); rc=$?
admin delete rolebinding,role,serviceaccount paia-nowatch-$$ >/dev/null
check "without watch the gateway exits 1 (rc=$rc)" test "$rc" -eq 1
check "it names the missing permission" contains "$out" 'cannot watch resource \"pods\"'
[ "$tap_failed" -eq 0 ] || gw_dump_log
admin delete pods -l "paia.io/managed-by=k8sgw-$run" --wait=false >/dev/null 2>&1
tap_done
