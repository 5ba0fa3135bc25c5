#!/bin/bash
# paiactl without a gateway or Kafka: the control commands against a
# stand-in gateway (a small Python server speaking docs/control.md), how
# the socket and bootstrap servers are found, and the error paths
# (usage, missing socket, ok:false, no answer, unreachable broker).
# The Kafka round trip itself is covered by embedded.sh.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "1..0 # SKIP python3 is needed"; exit 0; }
[ -x "$PAIACTL" ] || { echo "Bail out! $PAIACTL is not an executable"; exit 99; }

STATE=$(mktemp -d "${TMPDIR:-/tmp}/paiactl-unit.XXXXXX")
SOCK=$STATE/control.sock
FAKE_PID=
stop_fake() {
	if [ -n "$FAKE_PID" ]; then kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; fi
	cleanup
}
trap stop_fake EXIT

cat > "$STATE/fakegw.py" <<'PY'
import json, os, socket, sys, threading, time
path, logdir = sys.argv[1], sys.argv[2]
start = time.time()
def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)
def task(tid, state):
    tl = {"received": iso(start), "fetching": iso(start + 0.25), "launching": iso(start + 1.5),
          "running": iso(start + 2)}
    if state in ("done", "failed"):
        tl.update(collecting=iso(start + 14), uploading=iso(start + 14.2),
                  reporting=iso(start + 15))
        tl[state] = iso(start + 15.1)
    return {"task_id": tid, "attempt": 1, "game": "catch", "state": state,
            "status": {"done": "succeeded", "failed": "failed"}.get(state), "waiting": False,
            "pid": None, "partition": 0, "offset": 12, "timeline": tl,
            "error": {"class": "user", "message": "exit code 3\n\x1b[31mred\x1b[0m"}
                     if state == "failed" else None,
            "dir": logdir + "/" + tid, "log_path": logdir + "/" + tid + "/output/log.txt",
            "log_url": None, "video_url": None, "score": 42 if state == "done" else None,
            "duration_ms": 13000 if state in ("done", "failed") else None}
STATUS = {"instance": "h1", "version": "0.1.0", "pid": os.getpid(), "uptime_s": 3725,
          "embedded": True, "bootstrap_servers": "127.0.0.1:1234", "group_id": "paia-gateway",
          "topics": {"tasks": "paia.tasks", "results": "paia.results", "dlq": "paia.tasks.dlq"},
          "max_inflight": 8, "inflight": 1, "backlog": 0, "paused": False, "draining": False,
          "states": {"running": 1, "done": 1, "failed": 1},
          "totals": {"succeeded": 1, "failed": 1, "dlq": 0},
          "transactions": {"committed": 5, "aborted": 0},
          "partitions": [{"partition": 0, "committed": 10, "next": 12, "pending": 2, "high": 15,
                          "lag": 5, "paused": False}]}
STATES = {"t1": "running", "t2": "done", "t3": "failed"}
live_end = None
def answer(req):
    global live_end
    cmd = req.get("cmd")
    if cmd == "status":
        return {"ok": True, "status": STATUS}
    if cmd == "tasks":
        ts = [task(i, s) for i, s in STATES.items()]
        st = req.get("state")
        if st == "active":
            ts = [t for t in ts if t["state"] not in ("done", "failed")]
        elif st:
            ts = [t for t in ts if t["state"] == st]
        return {"ok": True, "tasks": ts}
    if cmd == "task":
        i = req.get("id")
        if i == "silent":
            return None
        if i == "live":
            live_end = live_end or time.time() + 2
            return {"ok": True, "task": task(i, "done" if time.time() > live_end else "running")}
        if i in STATES:
            return {"ok": True, "task": task(i, STATES[i])}
        return {"ok": False, "error": "no task %s known to this gateway" % i}
    if cmd == "requeue":
        if req.get("attempt") == 1:
            return {"ok": True, "task_id": req["id"], "attempt": 2, "already": True}
        return {"ok": True, "task_id": req["id"], "attempt": 2}
    if cmd == "lag":
        return {"ok": True, "version": 1, "source": "gateway", "group": "paia-gateway",
                "topic": "paia.tasks", "instance": "h1", "time": iso(time.time()),
                "healthy": False, "why": "partition 2: stuck\n",
                "partitions": [
                    {"partition": 0, "committed": 10, "committed_age_s": 0, "log_end": 10,
                     "log_end_age_s": 0.5, "lag": 0, "lag_s": 0, "owner": {"instance": "h1"},
                     "status": "OK", "healthy": True, "bad_checks": 0,
                     "history": [[1764324000000, 0], [1764324010000, 3],
                                 [1764324020000, 7]]},
                    {"partition": 2, "committed": 25, "committed_age_s": 0, "log_end": 29,
                     "log_end_age_s": 95, "lag": 4, "lag_s": 7.5, "owner": {"instance": "h1"},
                     "status": "STALL", "healthy": False, "bad_checks": 3,
                     "why": "partition 2: stuck", "error": "log end: Broker: timed out"}]}
    if cmd == "cancel":
        if req.get("id") not in STATES:
            return {"ok": False, "error": "no task %s in flight" % req.get("id")}
        return {"ok": True, "task_id": req["id"]}
    return {"ok": False, "error": "unknown command '%s'" % cmd}
def send_log(c, req):
    # logs: the answer, the file as log events (following "live" until it is done), log_end.
    global live_end
    tid, follow = req.get("id"), req.get("follow", False)
    path = logdir + "/" + str(tid) + "/output/log.txt"
    if not os.path.exists(path):
        c.sendall((json.dumps({"ok": False, "error": "no task %s known to this gateway" % tid}) +
                   "\n").encode())
        return
    c.sendall((json.dumps({"ok": True, "task_id": tid, "attempt": 1, "follow": follow}) +
               "\n").encode())
    if tid == "live":
        live_end = live_end or time.time() + 2
    off = 0
    while True:
        done = not follow or tid != "live" or time.time() > live_end
        data = open(path, "rb").read()[off:].decode()
        # Chunks of whole characters, as the gateway sends them.
        while data:
            piece, data = data[:5000], data[5000:]
            n = len(piece.encode())
            c.sendall((json.dumps({"event": "log", "log": {"task_id": tid, "attempt": 1,
                "source": "file", "offset": off, "bytes": n, "data": piece}}) +
                "\n").encode())
            off += n
        if done:
            break
        time.sleep(0.1)
    c.sendall((json.dumps({"event": "log_end", "log_end": {"task_id": tid, "attempt": 1,
        "reason": "done" if follow else "eof", "bytes": off}}) + "\n").encode())
def serve(c):
    try:
        for line in c.makefile("rb"):
            req = json.loads(line)
            if req.get("cmd") == "logs":
                send_log(c, req)
                continue
            if req.get("cmd") == "subscribe":
                c.sendall(b'{"ok":true}\n')
                for i in range(3):
                    time.sleep(0.1)
                    c.sendall((json.dumps({"event": "task", "task": task("t1", "running")}) +
                               "\n").encode())
                    c.sendall((json.dumps({"event": "status", "status": STATUS}) + "\n").encode())
                break
            a = answer(req)
            if a is None:
                time.sleep(10)
                break
            c.sendall((json.dumps(a) + "\n").encode())
    except OSError:
        pass
    c.close()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(16)
open(path + ".ready", "w").close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY

mkdir -p "$STATE/logs/t1/output" "$STATE/logs/live/output" "$STATE/logs/long/output"
printf 'line 1\nline 2\n' > "$STATE/logs/t1/output/log.txt"
# A line of 80001 bytes whose 64 KiB mark falls inside a character, a CR LF, no last newline.
python3 -c 'import sys; sys.stdout.buffer.write(("a" + "\u00e9" * 40000 + "\nlast\r\ntail").encode())' \
	> "$STATE/logs/long/output/log.txt"
: > "$STATE/logs/live/output/log.txt"
python3 "$STATE/fakegw.py" "$SOCK" "$STATE/logs" &
FAKE_PID=$!
wait_for 10 test -e "$SOCK.ready" || bail "stand-in gateway did not start"

# run ARGS...: paiactl with -S; sets out, err, rc.
run() {
	out=$("$PAIACTL" "$@" 2>"$STATE/err") && rc=0 || rc=$?
	err=$(cat "$STATE/err")
}
json_ok() { printf '%s' "$1" | python3 -c "import json,sys; v=json.load(sys.stdin); sys.exit(0 if ($2) else 1)"; }
# The same over JSON lines: v is the list of their values.
json_lines_ok() { printf '%s' "$1" | python3 -c "import json,sys; v=[json.loads(l) for l in sys.stdin]; sys.exit(0 if ($2) else 1)"; }

# --- global flags and usage ---------------------------------------------
# Checks are eval'd strings over $out, $err and $rc of the last run.
run -V
check "-V prints the version" eval '[ "$rc" -eq 0 ] && grep -q "^paiactl [0-9]" <<<"$out"'
run frob
check "unknown command: exit 2 and a usage line" \
	eval '[ "$rc" -eq 2 ] && grep -q "^usage: paiactl" <<<"$err"'
run
check "no command: exit 2" eval '[ "$rc" -eq 2 ]'
run -S "$SOCK" status --bogus
check "unknown flag of a command: exit 2 naming it" \
	eval '[ "$rc" -eq 2 ] && grep -q -- "--bogus" <<<"$err"'
run -S "$SOCK" task
check "task without an id: exit 2" eval '[ "$rc" -eq 2 ]'
run -S "$SOCK" tasks --state sleeping
check "tasks --state with an unknown state: exit 2" eval '[ "$rc" -eq 2 ]'

# --- the control commands --------------------------------------------------
run -S "$SOCK" status
check "status: summary and partitions table" eval '[ "$rc" -eq 0 ] &&
	grep -q "^instance  *h1" <<<"$out" &&
	grep -q "^PARTITION  *COMMITTED  *NEXT  *PENDING  *HIGH  *LAG  *PAUSED" <<<"$out"'
run -S "$SOCK" status --json
check "status --json: the status object" json_ok "$out" 'v["instance"] == "h1" and "ok" not in v'
run -S "$SOCK" tasks
check "tasks: a table with a row per task" eval '[ "$rc" -eq 0 ] &&
	[ "$(wc -l <<<"$out")" -eq 4 ] &&
	head -1 <<<"$out" | grep -q "^TASK  *ATTEMPT  *STATE  *STATUS  *AGE  *PARTITION/OFFSET  *ERROR"'
check "tasks: a task's error text reaches the terminal without its escapes" \
	eval 'grep -q "user: exit code 3" <<<"$out" && ! grep -q $'"'"'\033'"'"' <<<"$out"'
run -S "$SOCK" tasks --state active --json
check "tasks --state active --json: {\"tasks\":[...]} of the running one" \
	json_ok "$out" '[t["task_id"] for t in v["tasks"]] == ["t1"]'
run -S "$SOCK" task t2
check "task: fields and a timeline" eval '[ "$rc" -eq 0 ] &&
	grep -q "^state  *done" <<<"$out" && grep -q "^running  *[0-9T:.-]*Z  *12s" <<<"$out"'
run -S "$SOCK" task t2 --json
check "task --json: the task object" json_ok "$out" 'v["task_id"] == "t2" and v["score"] == 42'
run -S "$SOCK" task nope
check "ok:false prints the gateway's error, exit 1" \
	eval '[ "$rc" -eq 1 ] && [ "$err" = "paiactl: no task nope known to this gateway" ]'
run -S "$SOCK" requeue t2
check "requeue prints the new attempt" eval '[ "$out" = "requeued t2 as attempt 2" ]'
run -S "$SOCK" cancel t1
check "cancel" eval '[ "$out" = "cancelling t1" ]'
run -S "$SOCK" cancel t9
check "cancel of an unknown task: exit 1 naming it" \
	eval '[ "$rc" -eq 1 ] && [ "$err" = "paiactl: no task t9 in flight" ]'
run -S "$SOCK" logs t1
check "logs prints the log file" eval '[ "$out" = "$(printf "line 1\nline 2")" ]'
( for i in 1 2 3; do echo "tick $i" >> "$STATE/logs/live/output/log.txt"; sleep 0.3; done ) &
run -S "$SOCK" logs live -f
wait $!
check "logs -f follows until the task is done, then exits 0" \
	eval '[ "$rc" -eq 0 ] && [ "$out" = "$(printf "tick 1\ntick 2\ntick 3")" ]'
run -S "$SOCK" logs t1 --json
check "logs --json: {\"task_id\",\"line\"} per line" \
	eval '[ "$rc" -eq 0 ] && [ "$out" = "$(printf "%s\n" "{\"task_id\":\"t1\",\"line\":\"line 1\"}" "{\"task_id\":\"t1\",\"line\":\"line 2\"}")" ]'
run -S "$SOCK" logs long --json
check "logs --json: a line over 64 KiB in pieces that cut no character; CR LF and a last line without newline" \
	json_lines_ok "$out" 'len(v) == 4 and all(r["task_id"] == "long" and len(r["line"].encode()) <= 65536 and "\ufffd" not in r["line"] for r in v) and v[0]["line"] + v[1]["line"] == "a" + "\u00e9" * 40000 and [r["line"] for r in v[2:]] == ["last", "tail"]'
run -S "$SOCK" watch --count 4
check "watch --count 4: four event lines" \
	eval '[ "$rc" -eq 0 ] && [ "$(grep -c "^{\"event\": \"" <<<"$out")" -eq 4 ]'
run -S "$SOCK" watch --count 10
check "watch: fewer events than --count before the gateway closes is a failure" \
	eval '[ "$rc" -eq 1 ]'
t0=$(date +%s)
run -S "$SOCK" task silent
check "no answer within 5 s: exit 1, saying so" \
	eval '[ "$rc" -eq 1 ] && grep -q "no answer" <<<"$err" && [ $(($(date +%s) - t0)) -le 7 ]'

run -S "$SOCK" requeue t2 --json
check "requeue --json: the answer without ok" json_ok "$out" 'v == {"task_id": "t2", "attempt": 2}'
run -S "$SOCK" requeue t2 --attempt 1
check "requeue --attempt of an attempt requeued already says so" \
	eval '[ "$rc" -eq 0 ] && [ "$out" = "t2 was requeued already, as attempt 2" ]'
run -S "$SOCK" cancel t1 --json
check "cancel --json" json_ok "$out" 'v == {"task_id": "t1"}'
run -S "$SOCK" lag
check "lag: exit 3 when a partition is unhealthy, saying why" \
	eval '[ "$rc" -eq 3 ] && grep -q "^partition 2: stuck$" <<<"$out"'
check "lag: owner and the age of the oldest observation (a stale log end shows)" \
	eval 'grep -q "^PARTITION  *COMMITTED  *LOG-END  *LAG  *LAG-S  *OWNER  *STATUS  *HEALTHY  *AGE$" <<<"$out" &&
	grep -q "^2  *25  *29  *4  *7.5s  *h1  *STALL  *no  *1m35s$" <<<"$out" &&
	grep -q "^partition 2: log end: Broker: timed out$" <<<"$out"'
run -S "$SOCK" lag --json
check "lag --json: the LAG object as the gateway sent it" \
	eval '[ "$rc" -eq 3 ] && json_ok "$out" "v[\"source\"] == \"gateway\" and \"ok\" not in v and len(v[\"partitions\"]) == 2"'
run -S "$SOCK" lag --max-lag-s 5
check "lag --max-lag-s without the broker: exit 2" eval '[ "$rc" -eq 2 ]'
run -S "$SOCK" lag --history
check "lag --history: each partition's history as a sparkline, or none yet" \
	eval '[ "$rc" -eq 3 ] && grep -q "^partition 0: ▁▄█  3 checks over 20s, max lag 7, now 7$" <<<"$out" &&
	grep -q "^partition 2: no history yet$" <<<"$out"'
run -S "$SOCK" lag --history --group g
check "lag --history from the broker: exit 2 (it keeps none)" \
	eval '[ "$rc" -eq 2 ] && grep -q "history" <<<"$err"'
run -S "$SOCK" frame t1
check "frame without -o: exit 2" eval '[ "$rc" -eq 2 ] && grep -q -- "-o FILE" <<<"$err"'
run -S "$SOCK" frame t1 -o - --json
check "frame -o - --json: exit 2 (stdout is the PNG)" eval '[ "$rc" -eq 2 ]'
run -S "$SOCK" video t1
check "video without -o: exit 2" eval '[ "$rc" -eq 2 ] && grep -q -- "-o FILE" <<<"$err"'
run -S "$SOCK" video t1 -o - --json
check "video -o - --json: exit 2 (stdout is the video)" eval '[ "$rc" -eq 2 ]'
run -S "$SOCK" frame t1 -o "$STATE/f.png" --at -1
check "frame --at out of range: exit 2 naming it" \
	eval '[ "$rc" -eq 2 ] && grep -q -- "--at: \"-1\"" <<<"$err"'

# --- conventions: help, version, flags, completion ---------------------------
cmds="submit results topics status lag tasks task requeue cancel logs pods videos frame watch wait gpus"
bad_help=
for c in $cmds; do
	for h in -h --help; do
		run "$c" $h
		if [ "$rc" -ne 0 ] || ! grep -q "^usage: paiactl $c" <<<"$out" ||
		    ! grep -q -- "--json" <<<"$out"; then
			bad_help="$bad_help $c$h"
			continue
		fi
		# Every flag of the synopsis has its own entry with a description.
		printf '%s\n' "$out" | python3 -c '
import re, sys
text = sys.stdin.read()
synopsis, flags = text.split("\nflags:\n", 1)
bad = []
for f in set(re.findall(r"--[a-z-]+", synopsis)):
    m = re.search(r"^  (?:-., |    )" + re.escape(f) + r"\b[^\n]*?(?:  +(\S.*)|\n {25}(\S.*))$",
                  flags, re.M)
    if not m:
        bad.append(f)
print(" ".join(bad)); sys.exit(1 if bad else 0)' >"$STATE/bad" || bad_help="$bad_help $c:$(cat "$STATE/bad")"
	done
done
check "every command's -h and --help exit 0 and describe each of its flags, --json among them" \
	eval '[ -z "$bad_help" ] || { diag "bad:$bad_help"; false; }'
run topics -h
check "topics -h exits 0 (it exited 255)" eval '[ "$rc" -eq 0 ]'
run --help
check "--help lists every command, exit 0" eval '[ "$rc" -eq 0 ] &&
	for c in $cmds; do grep -q "^  $c " <<<"$out" || exit 1; done'
run --version
check "--version" eval '[ "$rc" -eq 0 ] && grep -q "^paiactl [0-9]" <<<"$out"'
run help requeue
check "help COMMAND is COMMAND --help" eval '[ "$rc" -eq 0 ] && grep -q "^usage: paiactl requeue ID" <<<"$out"'
run --bogus
check "an unknown global flag: exit 2 naming it" \
	eval '[ "$rc" -eq 2 ] && grep -q -- "unknown flag --bogus" <<<"$err"'
run -S "$SOCK" task t1 --json
check "operands before flags (task ID --json)" json_ok "$out" 'v["task_id"] == "t1"'
run -S "$SOCK" requeue -- t2
check "-- ends the flags" eval '[ "$out" = "requeued t2 as attempt 2" ]'

# complete WORD...: what bash offers after "paiactl WORD..." (the last
# word is being typed), through the installed completion script.
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _paiactl;
		printf "%s\n" "${COMPREPLY[@]}"' _ "$SRCDIR/paiactl/paiactl.bash-completion" "$PAIACTL" "$@"
}
check "completion: the commands" eval '[ "$(complete_words "" | tr "\n" " ")" = "submit results topics status lag tasks task requeue cancel logs pods videos frame video watch wait gpus vpn dial-stdio help " ]'
check "completion: a command's flags from its table" \
	eval '[ "$(complete_words results --f | tr "\n" " ")" = "--follow --from-beginning --from-end " ]'
check "completion: the states after --state" \
	eval 'complete_words tasks --state r | grep -qx running && complete_words tasks --state "" | grep -qx active'
check "completion: task ids from the gateway named by -S" \
	eval '[ "$(complete_words -S "$SOCK" requeue t | sort | tr "\n" " ")" = "t1 t2 t3 " ]'
check "completion: nothing (file names) for a flag's value" \
	eval '[ -z "$(complete_words submit --program "")" ]'

# --- finding the socket -----------------------------------------------------
run -S "$STATE/none.sock" status
check "missing socket: the documented message" eval '[ "$err" = "paiactl: cannot connect to $STATE/none.sock: No such file or directory (is paia-gateway running?)" ]'
mkdir -p "$STATE/sd"
printf '{"control_socket":"%s","pid":%d}\n' "$SOCK" "$FAKE_PID" > "$STATE/sd/embedded.json"
run -d "$STATE/sd" status --json
check "-d: the socket named by embedded.json" json_ok "$out" 'v["instance"] == "h1"'
out=$(PAIA_STATE_DIR=$STATE/sd "$PAIACTL" cancel t1 2>&1)
check "\$PAIA_STATE_DIR: the same" eval '[ "$out" = "cancelling t1" ]'
out=$(PAIA_SOCKET=$SOCK "$PAIACTL" -d "$STATE/none" cancel t1 2>&1)
check "\$PAIA_SOCKET wins over the state folder" eval '[ "$out" = "cancelling t1" ]'
printf '[control]\nsocket = %s\n' "$SOCK" > "$STATE/c.conf"
run -c "$STATE/c.conf" -d "$STATE/none" cancel t1
check "-c: control.socket" eval '[ "$out" = "cancelling t1" ]'
printf '[nope]\nx = 1\n' > "$STATE/bad.conf"
run -c "$STATE/bad.conf" status
check "-c with an unknown section: exit 1 naming it" \
	eval '[ "$rc" -eq 1 ] && grep -qF "unknown section [nope]" <<<"$err"'

# --- submit and results without Kafka --------------------------------------------
run -b 127.0.0.1:1 submit --program file:///x --params '[1]'
check "--params not an object: exit 2 naming the flag" \
	eval '[ "$rc" -eq 2 ] && grep -q -- "--params" <<<"$err"'
run -b 127.0.0.1:1 submit --game catch
check "submit without --program: exit 2" eval '[ "$rc" -eq 2 ]'
run -b 127.0.0.1:1 submit --file "$STATE/c.conf" --count 2
check "submit --file with --count: exit 2" eval '[ "$rc" -eq 2 ]'
printf '{"a":1}\n{"b":\n' > "$STATE/bad.jsonl"
run -b 127.0.0.1:1 submit --file "$STATE/bad.jsonl"
check "submit --file with a bad line: exit 1 naming file and line" \
	eval '[ "$rc" -eq 1 ] && grep -q "bad.jsonl:2: not valid JSON" <<<"$err"'
run -d "$STATE/none" submit --program file:///x
check "no bootstrap servers anywhere: exit 1 naming embedded.json" \
	eval '[ "$rc" -eq 1 ] && grep -q "embedded.json" <<<"$err"'
sleep 0 &
dead=$!
wait $dead
printf '{"bootstrap_servers":"127.0.0.1:1","pid":%d}\n' "$dead" > "$STATE/sd/embedded.json"
run -d "$STATE/sd" results
check "embedded.json of a gateway that is gone: refused as stale" \
	eval '[ "$rc" -eq 1 ] && grep -q "is stale" <<<"$err"'
printf '[kafka]\nbootstrap.servers = 127.0.0.1:1\nmessage.timeout.ms = 1000\n' > "$STATE/k.conf"
t0=$(date +%s)
run -c "$STATE/k.conf" submit --program file:///x --id nobroker
check "unreachable broker: exit 1 naming task, topic and broker; kafka.* of -c apply" \
	eval '[ "$rc" -eq 1 ] && [ -z "$out" ] && [ $(($(date +%s) - t0)) -le 10 ] &&
	grep -q "task nobroker not delivered to topic paia.tasks at 127.0.0.1:1" <<<"$err"'
run -c "$STATE/k.conf" topics
check "topics with an unreachable broker: one clean line naming it, exit 1" \
	eval '[ "$rc" -eq 1 ] && [ -z "$out" ] &&
	LC_ALL=C grep -qx "paiactl: cannot read topics from 127\.0\.0\.1:1: [ -~]*" <<<"$err"'
printf '[kafka]\nbootstrap.servers = 127.0.0.1:1\nno.such.property = 1\n' > "$STATE/k2.conf"
run -c "$STATE/k2.conf" results
check "a bad kafka.* key: exit 1 naming it" \
	eval '[ "$rc" -eq 1 ] && grep -q "kafka.no.such.property" <<<"$err"'

tap_done
