#!/bin/bash
# Operating the gateway (embedded default, no servers):
#  1. requeue --attempt: once per attempt, "already" the second time;
#  2. every slot busy with a long game and a backlog: /healthz turns 503
#     (no progress) while /livez and /readyz stay 200 at every probe;
#  3. /metrics read by a real Prometheus parser (prometheus_client):
#     paia_tasks' states sum to the tasks in flight, no unknown value
#     written as -1, build, process and labelled consumer series;
#  4. a second gateway on the same state folder refuses to start naming
#     the first one's pid, and the first one's games, socket and state
#     are untouched;
#  5. SIGHUP: the gateway survives it, applies a new log level, names
#     the changes that need a restart, and reopens a rotated log file;
#  6. -q, journald's priority prefixes, and a start that fails after the
#     control socket was made leaves nothing behind;
#  7. SIGTERM leaves no socket, embedded.json or lock file; every line
#     the gateway wrote is strict logfmt, every task line has task= and
#     attempt=, and a task that failed is reported with its error.
. "$(dirname "$0")/lib.sh"

PY_PROM=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import prometheus_client.parser' 2>/dev/null; then PY_PROM=$p; break; fi
done
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(port)
CONFDIR=$(mktemp -d "${TMPDIR:-/tmp}/paia-ops.XXXXXX")
STATES="$CONFDIR"
CONF=$CONFDIR/gw.conf
cat > "$CONF" <<EOF
[gateway]
max_inflight = 2
prefetch = 1
grace_s = 2
log_level = info
[runner]
kill_grace_s = 1
[health]
listen = 127.0.0.1:$PORT
interval_ms = 300
failures = 3
EOF
# jtrue JSON EXPR: the Python expression holds of the parsed JSON "r".
jtrue() { python3 -c 'import json, sys; r = json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"; }
http() { curl -s -o /dev/null -m 10 -w '%{http_code}' "http://127.0.0.1:$PORT/$1"; }
LOGFMT=$SRCDIR/tests/integration/logfmt.py

gw_start -c "$CONF"
A_PID=$GW_PID
A_STATE=$STATE
cp "$SRCDIR/demo/sample-ai.py" "$STATE/programs/sample-ai.py"
SAMPLE=file://$STATE/programs/sample-ai.py
FAST='{"frames":3,"video":false}'

# --- 1. requeue --attempt -------------------------------------------------------------
ctl submit --id q1 --program "$SAMPLE" --params "$FAST" >/dev/null || bail "submit failed"
result_of q1 1 60 >/dev/null || bail "no result for q1"
out=$(ctl requeue q1 --attempt 1 2>&1)
check "requeue --attempt 1 sends attempt 2" [ "$out" = "requeued q1 as attempt 2" ]
out=$(ctl requeue q1 --attempt 1 2>&1)
check "requeue --attempt 1 again: requeued already, nothing sent" \
	[ "$out" = "q1 was requeued already, as attempt 2" ]
check "attempt 2 runs" eval 'result_of q1 2 60 >/dev/null'
out=$(ctl requeue q1 --attempt 1 --json 2>&1)
check "  asked for attempt 1 after attempt 2 ran: already, as 2" \
	jtrue "$out" 'r == {"task_id": "q1", "attempt": 2, "already": True}'
FAIL=$(program fail.sh 'exit 3')
ctl submit --id f1 --program "$FAIL" >/dev/null || bail "submit failed"
result_of f1 1 60 >/dev/null || bail "no result for f1"

# --- 2. busy with long games: /healthz 503, /livez and /readyz 200 ----------------------
HANG=$(program hang.sh 'sleep 600')
ctl submit --id long --count 5 --program "$HANG" --timeout 600 >/dev/null || bail "submit failed"
busy() {
	ctl status --json | python3 -c 'import json, sys
s = json.load(sys.stdin)
sys.exit(0 if s["inflight"] == 2 and s["backlog"] >= 1 else 1)'
}
wait_for 60 busy || bail "the two slots never filled with a backlog"
: > "$CONFDIR/probes"
# Until /healthz has said 503 twenty times (or a minute passed): the probes meanwhile count.
deadline=$(( $(date +%s) + 60 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
	echo "$(http livez) $(http readyz) $(http healthz)" >> "$CONFDIR/probes"
	[ "$(grep -c ' 503$' "$CONFDIR/probes")" -ge 20 ] && break
	sleep 0.1
done
diag "probes (livez readyz healthz): $(sort "$CONFDIR/probes" | uniq -c | tr '\n' ';')"
check "/healthz turns 503: no progress while every slot runs a long game" \
	grep -q ' 503$' "$CONFDIR/probes"
check "/livez stayed 200 at every probe" sh -c "! grep -qv '^200 ' '$CONFDIR/probes'"
check "/readyz stayed 200 at every probe" sh -c "! awk '{print \$2}' '$CONFDIR/probes' | grep -qv 200"
body=$(curl -s "http://127.0.0.1:$PORT/healthz")
check "/healthz says which partition and why" contains "$body" "nothing committed for"
lagj=$(curl -s "http://127.0.0.1:$PORT/lag")
check "/lag is the LAG object (docs/control.md)" jtrue "$lagj" \
	'r["version"] == 1 and r["source"] == "gateway" and r["healthy"] is False and all(p["owner"] == {"instance": r["instance"]} and "log_end_age_s" in p for p in r["partitions"])'

# --- 3. /metrics by a real Prometheus parser ----------------------------------------------
curl -s "http://127.0.0.1:$PORT/metrics" > "$CONFDIR/metrics"
ctl status --json > "$CONFDIR/status.json"
if [ -z "$PY_PROM" ]; then
	ok "# SKIP /metrics parser: no python with prometheus_client (python3-prometheus-client)"
else
	check "/metrics: parsed by prometheus_client; states sum to the tasks in flight; nothing unknown as -1" \
	    "$PY_PROM" - "$CONFDIR/metrics" "$CONFDIR/status.json" <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
st = json.load(open(sys.argv[2]))
bad = []
def samples(name):
    """The samples called name, in its family (a counter's family drops _total)."""
    f = fams.get(name) or fams.get(name[:-6] if name.endswith("_total") else name)
    return [s for s in f.samples if s.name == name] if f is not None else []
tasks = {s.labels["state"]: s.value for s in samples("paia_tasks")}
inflight = st["inflight"] + st["backlog"] + st["reporting"]
if sum(tasks.values()) != inflight:
    bad.append("paia_tasks sum %s != %d in flight (%s)" % (sum(tasks.values()), inflight, tasks))
if tasks.get("running") != 2 or tasks.get("waiting") != st["backlog"]:
    bad.append("running %s, waiting %s (backlog %d)" % (tasks.get("running"), tasks.get("waiting"), st["backlog"]))
for f in fams.values():
    for s in f.samples:
        if s.value < 0:
            bad.append("negative sample %s%s %s" % (s.name, s.labels, s.value))
        if f.type == "counter" and not s.name.endswith(("_total", "_created")):
            bad.append("counter sample without _total: " + s.name)
for name in ("process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds",
             "process_max_fds", "process_start_time_seconds", "paia_build_info", "paia_ready",
             "paia_consumer_lag", "paia_consumer_log_end_offset", "paia_result_errors",
             "paia_storage_errors"):
    if name not in fams:
        bad.append("no family " + name)
b = samples("paia_build_info")
if not b or b[0].value != 1 or not b[0].labels.get("version") or not b[0].labels.get("librdkafka"):
    bad.append("paia_build_info: %s" % b)
for s in samples("paia_consumer_lag") + samples("paia_consumer_committed_offset"):
    if s.labels.get("group") != st["group_id"] or s.labels.get("topic") != st["topics"]["tasks"]:
        bad.append("consumer series labels: %s" % s.labels)
if not samples("paia_consumer_lag"):
    bad.append("no paia_consumer_lag sample")
user = [s.value for s in samples("paia_result_errors_total") if s.labels["class"] == "user"]
if user != [1]:
    bad.append("paia_result_errors_total{class=user} %s, want [1] (f1)" % user)
if [s.value for s in samples("paia_ready")] != [1]:
    bad.append("paia_ready not 1")
dl = samples("paia_dead_letters_total")
if not dl or any("reason" not in s.labels for s in dl):
    bad.append("paia_dead_letters_total without reason")
for b_ in bad:
    print("# " + b_)
print("# %d families" % len(fams))
sys.exit(1 if bad else 0)
PY
fi

# --- 4. a second gateway on the same state folder ----------------------------------------------
pgid=$(ctl tasks --state running --json | python3 -c 'import json, sys
print(json.load(sys.stdin)["tasks"][0]["pid"])')
"$GATEWAY" --embedded --state-dir "$A_STATE" > "$CONFDIR/b.out" 2> "$CONFDIR/b.err"
rc=$?
diag "$(tail -n 1 "$CONFDIR/b.err")"
check "a second gateway on the folder refuses to start (exit 1), naming the first one's pid" \
	eval '[ "$rc" -eq 1 ] && grep -q "state folder .* is in use by another paia-gateway (pid $A_PID, lock .*gateway.lock)" "$CONFDIR/b.err"'
check "  the first one's running game is untouched" kill -0 -- "-$pgid"
check "  and its control socket answers" eval 'ctl status >/dev/null'
check "  the lock names the first one" [ "$(cat "$A_STATE/gateway.lock")" = "$A_PID" ]
check "  no task was reported failed meanwhile" \
	sh -c "! grep 'task reported' '$GW_LOG' | grep -q 'task=long'"

# --- 5. SIGHUP -------------------------------------------------------------------------------
sed -i 's/^log_level = info$/log_level = debug/; s/^max_inflight = 2$/max_inflight = 3/' "$CONF"
kill -HUP "$A_PID"
check "SIGHUP: the gateway reads its configuration again" \
	wait_for 20 grep -q 'msg="configuration read again (SIGHUP)".* applied=gateway.log_level restart_needed=gateway.max_inflight' "$GW_LOG"
check "  and is still there" eval 'ctl status >/dev/null'
# A task waiting for a slot, cancelled: its states change, at debug level.
waiting=$(ctl tasks --state received --json | python3 -c 'import json, sys
print(json.load(sys.stdin)["tasks"][0]["task_id"])')
ctl cancel "$waiting" >/dev/null
check "  the new log level applies (debug lines)" 	wait_for 20 grep -q "level=debug msg=\"task state\" task=$waiting " "$GW_LOG"
sed -i "s|^\[gateway\]$|[gateway]\nlog_file = $CONFDIR/gw-file.log|" "$CONF"
kill -HUP "$A_PID"
check "SIGHUP with a log file: lines go there" \
	wait_for 20 grep -q 'configuration read again (SIGHUP)' "$CONFDIR/gw-file.log"
mv "$CONFDIR/gw-file.log" "$CONFDIR/gw-file.log.1"
kill -HUP "$A_PID"
check "SIGHUP after a rotation: the file is opened again" \
	wait_for 20 grep -q 'configuration read again (SIGHUP)' "$CONFDIR/gw-file.log"
check "  the rotated one keeps what came before" grep -q 'applied=gateway.log_file' "$CONFDIR/gw-file.log.1"

# --- 6. -q, journald, a start that fails late --------------------------------------------------
STATE_C=$(mktemp -d "${TMPDIR:-/tmp}/paia-ops-c.XXXXXX")
STATES="$STATES $STATE_C"
: > "$CONFDIR/c.err"
JS=$(python3 -c 'import os, sys; s = os.stat(sys.argv[1]); print("%d:%d" % (s.st_dev, s.st_ino))' "$CONFDIR/c.err")
JOURNAL_STREAM=$JS "$GATEWAY" --embedded --state-dir "$STATE_C" -o "health.listen=127.0.0.1:$PORT" \
	2>> "$CONFDIR/c.err"
rc=$?
check "a start that fails after the control socket was made: exit 1, cannot start" \
	eval '[ "$rc" -eq 1 ] && grep -q "cannot start.*health.listen 127.0.0.1:$PORT" "$CONFDIR/c.err"'
check "  it leaves no socket, embedded.json or lock" \
	sh -c "[ ! -e '$STATE_C/control.sock' ] && [ ! -e '$STATE_C/embedded.json' ] && [ ! -e '$STATE_C/gateway.lock' ]"
check "  its lines carry journald priorities (JOURNAL_STREAM is standard error)" \
	python3 "$LOGFMT" --journal "$CONFDIR/c.err"
check "  an error line is <3>" grep -q '^<3>ts=.* level=error msg="cannot start"' "$CONFDIR/c.err"
"$GATEWAY" --embedded --state-dir "$STATE_C" -q 2> "$CONFDIR/q.err" &
Q_PID=$!
wait_for 30 "$PAIACTL" -d "$STATE_C" status || bail "the -q gateway did not start"
kill -TERM "$Q_PID"
wait "$Q_PID"
check "-q: no info line, the gateway ran and stopped" \
	sh -c "! grep -q 'level=info' '$CONFDIR/q.err'"

# --- 7. SIGTERM, and the lines of the whole run ---------------------------------------------------
kill -TERM "$A_PID"
wait "$A_PID"
rc=$?
check "SIGTERM: exit 0" [ "$rc" -eq 0 ]
check "  nothing left behind: control.sock, embedded.json, gateway.lock" \
	sh -c "[ ! -e '$A_STATE/control.sock' ] && [ ! -e '$A_STATE/embedded.json' ] && [ ! -e '$A_STATE/gateway.lock' ]"
check "every line of the run is strict logfmt; task lines have task= and attempt=; a failure has its error" \
	python3 "$LOGFMT" --task-lines "$GW_LOG" "$CONFDIR/gw-file.log.1" "$CONFDIR/gw-file.log" \
	"$CONFDIR/b.err" "$CONFDIR/q.err"
check "the failed task's end: status, error class and message" \
	grep -q 'msg="task reported" task=f1 attempt=1 status=failed error_class=user error="game exited with code 3"' "$GW_LOG"
check "game process ended names its task" grep -q 'msg="game process ended" task=q1 attempt=1 ' "$GW_LOG"
check "no raw librdkafka line (%N|...)" sh -c "! grep -q '^%[0-7]|' '$GW_LOG' '$CONFDIR/gw-file.log' '$CONFDIR/gw-file.log.1'"
tap_done
