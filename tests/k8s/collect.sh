#!/bin/bash
# The k8s collect path (runner.type = k8s, a real kube-apiserver whose
# pods kwok plays, a real broker): while a game pod "runs", links are
# planted in its task folder as the pod would leave them on the shared
# volume. They resolve in the gateway's mount namespace, not the pod's:
# to the gateway's kubeconfig (its service account's token), its
# configuration, another task's folder. Each is refused and named in
# the result; storage holds none of those bytes; a plain file next to
# them still goes up.
. "$(dirname "$0")/lib.sh"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-k8s-collect.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/gateway.log
conf=$STATE/gateway.conf
k8s_gateway_conf "$conf" "$STATE/gw" k8scol 4 10 <<CONF
[k8s]
deadline_slack_s = 2
pod_name_prefix = c$$
CONF
echo "# CONFIG-MARKER-$$" >> "$conf"
TOKEN=$(sed -n 's/^ *token: *//p' "$K8S_GATEWAY_KUBECONFIG" | head -1)
[ -n "$TOKEN" ] || bail "no token in $K8S_GATEWAY_KUBECONFIG"
cp "$K8S_GATEWAY_KUBECONFIG" "$STATE/gateway.kubeconfig"

"$GATEWAY" -c "$conf" 2>>"$GW_LOG" &
GW_PID=$!
wait_for 60 ctl status || bail "gateway did not start"
ctl topics --create --partitions 3,3,1 >/dev/null || bail "cannot create topics at $KAFKA"
mkdir -p "$STATE/programs"
P=$(program ok.sh 'exit 0')
slow='{"pod_annotations":{"paia.io/fake-duration":"8s"}}'
T=$STATE/gw/tasks

ctl submit --id links --program "$P" --params "$slow" >/dev/null
ctl submit --id linkdir --program "$P" --params "$slow" >/dev/null
ctl submit --id plain --program "$P" --params "$slow" >/dev/null
for id in links linkdir plain; do
	wait_for 60 sh -c "[ \"\$($PAIACTL -c $conf task $id --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get(\"state\"))')\" = running ]" ||
		bail "$id never ran"
done
# What a pod could leave on the shared volume, the gateway's view of it:
ln -s "$K8S_GATEWAY_KUBECONFIG" "$T/links/output/video.mp4"		# absolute
ln -s ../../../../gateway.conf "$T/links/output/log.txt"		# relative, out of tasks/
ln "$STATE/gateway.kubeconfig" "$T/links/output/result.json"		# a hard link
rm -rf "$T/linkdir/output" && ln -s ../links/input "$T/linkdir/output"	# another task's folder
echo "a log of its own" > "$T/plain/output/log.txt"
ln -s /proc/self/root/etc/hostname "$T/plain/output/video.mp4"		# a magic link's way

jget() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$@"; }
refused() {
	jget "$1" 'any(x["name"] == sys.argv[3] and sys.argv[4] in x["reason"] for x in r["artifacts_refused"])' \
	    "$2" "$3" | grep -q True || { diag "refused: $(jget "$1" 'r["artifacts_refused"]')"; return 1; }
}
r=$(result_of links "" 120) || bail "no result for links"
check "k8s: a link to the gateway's kubeconfig (its token) is refused" refused "$r" video.mp4 "a symbolic link"
check "k8s: a relative link to the gateway's config is refused" refused "$r" log.txt "a symbolic link"
check "k8s: a hard link to the gateway's file is refused" refused "$r" result.json "a hard link"
check "k8s: the pod's outcome stands (succeeded, nothing uploaded)" \
	test "$(jget "$r" 'r["status"] + "/" + str(len(r["artifacts"]))')" = succeeded/0
r=$(result_of linkdir "" 120) || bail "no result for linkdir"
check "k8s: output/ linked to another task's folder is refused" refused "$r" output "a symbolic link"
r=$(result_of plain "" 120) || bail "no result for plain"
check "k8s: a link through /proc is refused" refused "$r" video.mp4 "a symbolic link"
check "k8s: the plain log next to it went up" \
	test "$(jget "$r" '",".join(a["name"] for a in r["artifacts"])')" = log.txt
check "k8s: the refusals are logged" grep -q 'artifact refused.*task=links' "$GW_LOG"
check "k8s: storage holds no token, no config, no other task's file" \
	sh -c "! grep -rqa -e '$TOKEN' -e 'CONFIG-MARKER-$$' -e 'exit 0' '$STATE/results'"
gw_stop
check "the gateway stops cleanly (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || gw_dump_log
admin delete pods -l "paia.io/managed-by=k8scol-$run" --wait=false >/dev/null 2>&1
tap_done
