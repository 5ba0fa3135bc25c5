#!/bin/bash
# Log streams of one control connection (docs/control.md, "logs"), on an
# embedded gateway with eleven games that write their log until told to
# stop:
#  1. one connection follows 8 logs and the ninth is refused (the cap);
#  2. one connection follows the logs of ten running tasks one after the
#     other, stopping each ({"cmd":"logs","id":T,"stop":true}) before the
#     next: all ten are accepted; each stop is answered with the task's
#     id, the stream's descriptor on output/log.txt is closed by then,
#     and no log event of a stopped task comes after the answer, though
#     the games write on (a stream still followed on the connection reads
#     the newer bytes of its game four times meanwhile); another
#     connection's stream of the same task goes on;
#  3. a stop of a log the connection does not stream (stopped already,
#     never asked, unknown task) is an error naming the task; "stop"
#     with "follow" is refused.
. "$(dirname "$0")/lib.sh"

N=11
gw_start -o gateway.max_inflight=$((N + 1))
TMP=$STATE/log-streams
mkdir -p "$TMP"

# A game that writes a line every 0.1 s until its gate opens (or 5
# minutes pass): the game's one frame waits for it as long.
TICKER=$(program ticker.sh 'i=0
while [ ! -e /workspace/input/gate ] && [ $i -lt 3000 ]; do
	echo "tick $i" >&2; sleep 0.1; i=$((i+1))
done
echo "gate open" >&2; exit 0')
ids=
for i in $(seq 1 $N); do
	ctl submit --id "tick$i" --program "$TICKER" --params '{"frames":1,"frame_timeout_ms":600000,"video":false}' >/dev/null
	ids="$ids tick$i"
done
state_is() { [ "$(task_field "$1" state)" = "$2" ]; }
for id in $ids; do
	wait_for 60 state_is "$id" running || bail "$id never ran"
done

# client.py MODE SOCKET STATE GATEWAY_PID IDS...: a raw control connection
# (python3) that prints what it saw as one JSON object.
cat >"$TMP/client.py" <<'PY'
import json, os, socket, sys, time
mode, path, state, gw_pid = sys.argv[1:5]
ids = sys.argv[5:]

class Conn:
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rwb")
        self.stopped = set()
        self.late = []          # log events of a task after its stop's answer
        self.chunks = {}        # task: chunks seen
        self.delivered = {}     # task: offset + bytes of its last chunk
    def send(self, obj):
        self.f.write((json.dumps(obj) + "\n").encode()); self.f.flush()
    def line(self):
        l = self.f.readline()
        if not l:
            sys.exit("connection closed")
        return json.loads(l)
    def event(self, m):
        kind = m.get("event")
        if kind not in ("log", "log_end"):
            return
        task = m[kind]["task_id"]
        if task in self.stopped:
            self.late.append(m)
        if kind == "log":
            c = m["log"]
            self.chunks[task] = self.chunks.get(task, 0) + 1
            self.delivered[task] = c["offset"] + c["bytes"]
    def answer(self):
        while True:
            m = self.line()
            if "ok" in m:
                return m
            self.event(m)
    def ask(self, obj):
        self.send(obj)
        return self.answer()
    def until(self, cond):
        while not cond():
            self.event(self.line())

def log_size(task):
    return os.path.getsize(os.path.join(state, "tasks", task, "output", "log.txt"))

def log_fds(task):
    """Descriptors of the gateway open on the task's log.txt."""
    want = os.path.join(state, "tasks", task, "output", "log.txt")
    n = 0
    for fd in os.listdir("/proc/%s/fd" % gw_pid):
        try:
            if os.readlink("/proc/%s/fd/%s" % (gw_pid, fd)) == want:
                n += 1
        except OSError:
            pass
    return n

def wait_until(cond, what, limit=120):
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            sys.exit("timed out waiting for " + what)
        time.sleep(0.05)

out = {}
if mode == "cap":
    # Nine follows on one connection, none stopped: the ninth is refused.
    c = Conn()
    out["answers"] = [c.ask({"cmd": "logs", "id": t, "follow": True}) for t in ids[:9]]
elif mode == "browse":
    witness, first, browsed = ids[0], ids[1], ids[1:]
    a, b = Conn(), Conn()
    # Another connection follows the first task browsed, and keeps it.
    out["other"] = b.ask({"cmd": "logs", "id": first, "follow": True})
    out["accepted"], out["refused"], out["stops"] = [], [], []
    out["fds_after_stop"], out["size_at_stop"] = {}, {}
    for t in browsed:
        fds = log_fds(t)    # the other connection's stream holds one of the first
        r = a.ask({"cmd": "logs", "id": t, "follow": True})
        if not r.get("ok"):
            out["refused"].append([t, r.get("error")])
            continue
        out["accepted"].append(t)
        a.until(lambda: a.chunks.get(t, 0) > 0)   # streaming: its first chunk came
        r = a.ask({"cmd": "logs", "id": t, "stop": True})
        out["stops"].append(r)
        if r.get("ok"):
            a.stopped.add(t)
            out["fds_after_stop"][t] = log_fds(t) - fds
            out["size_at_stop"][t] = log_size(t)
    # The games write on; a live stream would send what they add.
    for t in a.stopped:
        wait_until(lambda: log_size(t) > out["size_at_stop"][t] + 64, t + " writing on")
    # A stream kept on this connection reads its game's newer bytes four
    # times (each a poll of the gateway's after the stopped logs grew).
    out["witness"] = a.ask({"cmd": "logs", "id": witness, "follow": True})
    for k in range(4 if out["witness"].get("ok") else 0):
        have = log_size(witness)
        a.until(lambda: a.delivered.get(witness, 0) > have)
    out["late"] = a.late
    out["chunks_after_stop"] = {t: a.chunks.get(t, 0) for t in a.stopped}
    # The other connection's stream of the first task goes on past A's stop.
    b.until(lambda: b.delivered.get(first, 0) > out["size_at_stop"].get(first, 0))
    out["other_after"] = b.delivered.get(first, 0)
    # Stops of logs not streamed on this connection.
    out["again"] = a.ask({"cmd": "logs", "id": first, "stop": True})
    out["never"] = a.ask({"cmd": "logs", "id": witness + "x", "stop": True})
    out["both"] = a.ask({"cmd": "logs", "id": witness, "stop": True, "follow": True})
    out["witness_stop"] = a.ask({"cmd": "logs", "id": witness, "stop": True})
print(json.dumps(out))
PY
client() { timeout 300 python3 "$TMP/client.py" "$1" "$STATE/control.sock" "$STATE" "$GW_PID" $ids; }

# --- 1. the cap ----------------------------------------------------------------
out=$(client cap) || bail "cap client failed: $out"
check "one connection follows 8 logs" \
	test "$(jget "$out" 'sum(1 for a in r["answers"][:8] if a["ok"])')" = 8
check "... and the ninth is refused" \
	test "$(jget "$out" 'r["answers"][8].get("error")')" = "this connection already streams 8 logs (the most one may)"

# --- 2. browsing ten logs on one connection, stopping each ------------------------
out=$(client browse) || bail "browse client failed: $out"
diag "$(jget "$out" '{k: r[k] for k in ("accepted", "refused", "chunks_after_stop", "fds_after_stop")}')"
check "ten logs followed one after the other on one connection: all accepted" \
	test "$(jget "$out" 'len(r["accepted"])')" = $((N - 1))
check "... none refused" test "$(jget "$out" 'r["refused"]')" = "[]"
check "each stop is answered ok with the task's id" \
	test "$(jget "$out" 'all(s.get("ok") and s.get("task_id") == t and s.get("stopped") for s, t in zip(r["stops"], r["accepted"])) and len(r["stops"]) == len(r["accepted"])')" = True
check "... its descriptor on output/log.txt is closed by the answer" \
	test "$(jget "$out" 'sum(r["fds_after_stop"].values())')" = 0
check "no log event of a stopped task after its stop's answer, though the games wrote on" \
	test "$(jget "$out" 'len(r["late"])')" = 0
check "... and no log_end for it either (the answer is the end)" \
	test "$(jget "$out" '[m for m in r["late"] if m.get("event") == "log_end"]')" = "[]"
check "another connection's stream of the same task goes on" \
	test "$(jget "$out" 'r["other"]["ok"] and r["other_after"] > r["size_at_stop"].get("tick2", 1 << 62)')" = True
check "a stream kept on the connection went on meanwhile" \
	test "$(jget "$out" 'r["witness"]["ok"] and r["witness_stop"]["ok"]')" = True

# --- 3. stops that are refused ------------------------------------------------------
check "a stop of a log stopped already names the task" \
	test "$(jget "$out" 'r["again"].get("error")')" = "this connection does not stream the log of tick2"
check "a stop of a log never asked names it too" \
	test "$(jget "$out" 'r["never"].get("error")')" = "this connection does not stream the log of tick1x"
check "stop with follow is refused" \
	contains "$(jget "$out" 'r["both"].get("error")')" "fields 'stop' and 'follow' do not go together"
check "the gateway still answers" sh -c "'$PAIACTL' -d '$STATE' status >/dev/null"

for id in $ids; do touch "$STATE/tasks/$id/input/gate"; done
for id in $ids; do
	result_of "$id" "" 120 >/dev/null || not_ok "no result for $id"
done
gw_stop
check "gateway exits 0 ($GW_RC)" test "$GW_RC" -eq 0
tap_done
