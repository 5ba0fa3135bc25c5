#!/bin/bash
# Input from outside and from careless operators, on the built gateway:
# configuration files and values that are not what they seem (errors
# name file and line, and come at once), a control.socket path naming
# someone's file or a live gateway's socket, control requests that are
# not strict JSON or have the wrong types, task messages with NUL
# escapes or names twice (dead-lettered saying so), and credentials in
# the storage URL (used for the transfer, redacted in every report).
. "$(dirname "$0")/lib.sh"

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/paia-hostile.XXXXXX")
STATES="${STATES:-} $SCRATCH"
SRV_PID=
B_PID=
trap '[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; [ -n "$B_PID" ] && kill -KILL "$B_PID" 2>/dev/null; cleanup' EXIT

quietly() { "$@" >/dev/null 2>&1; }

# gw_fails CHECK-NAME RC-WANTED TEXT ARGS...: the gateway exits RC-WANTED
# within 20 s saying TEXT.
gw_fails() {
	local name=$1 want=$2 text=$3 out rc
	shift 3
	out=$(timeout 20 "$GATEWAY" "$@" 2>&1); rc=$?
	if [ "$rc" -eq "$want" ] && contains "$out" "$text"; then
		ok "$name"
	else
		not_ok "$name"
		diag "rc=$rc (want $want), output: $(printf '%s' "$out" | head -c 400)"
	fi
}

# --- configuration --------------------------------------------------------
gw_fails "-c /dev/zero exits 2 at once, naming it (it read forever)" 2 \
	"/dev/zero: not a regular file (a device)" -c /dev/zero --check-config
gw_fails "-c DIRECTORY exits 2 (it read as an empty file)" 2 \
	"$SCRATCH: not a regular file (a directory)" -c "$SCRATCH" --check-config
mkfifo "$SCRATCH/fifo"
gw_fails "-c FIFO exits 2 without waiting for a writer" 2 \
	"$SCRATCH/fifo: not a regular file (a FIFO)" -c "$SCRATCH/fifo" --check-config
printf '[gateway\nmax_inflight = 3\n' > "$SCRATCH/c1"
gw_fails "a broken section header names file and line" 2 \
	"$SCRATCH/c1:1: section header without ']'" -c "$SCRATCH/c1" --embedded --check-config
printf '[gateway]\ninstance_id = %s max_inflight = 7\n' "$(printf 'A%.0s' $(seq 250))" > "$SCRATCH/c2"
gw_fails "an overlong instance_id does not inject max_inflight = 7" 2 \
	"$SCRATCH/c2:2: gateway.instance_id: \"AAAA" -c "$SCRATCH/c2" --embedded --check-config
printf '[gateway]\nmax_inflight = 3\0 ; rest\n' > "$SCRATCH/c3"
gw_fails "a NUL in the file names its line" 2 "$SCRATCH/c3:2: a NUL byte" \
	-c "$SCRATCH/c3" --embedded --check-config
{ printf '[runner]\ncommand = '; printf 'x%.0s' $(seq 4100); printf '\n'; } > "$SCRATCH/c4"
gw_fails "a line over 4096 bytes names its line" 2 "$SCRATCH/c4:2: line longer than 4096 bytes" \
	-c "$SCRATCH/c4" --embedded --check-config
gw_fails "a newline in instance_id from -o is refused (forged log lines)" 2 \
	"gateway.instance_id: the value holds a control character (byte 0x0a)" \
	--embedded -o $'gateway.instance_id=gw\nlevel=error msg=forged' --check-config
out=$(PAIA_GATEWAY_INSTANCE_ID=$'gw\x1b[2J' timeout 20 "$GATEWAY" --embedded --check-config 2>&1); rc=$?
check "an escape in instance_id from the environment is refused, naming the variable" \
	fails_with $rc "$out" "environment PAIA_GATEWAY_INSTANCE_ID: gateway.instance_id: the value holds a control character (byte 0x1b)"
gw_fails "instance_id is a name" 2 "gateway.instance_id: \"gw 1\" is not a name" \
	--embedded -o 'gateway.instance_id=gw 1' --check-config
gw_fails "kafka.group.id is a name" 2 "kafka.group.id: \"paia gw\" is not a name" \
	--embedded -o 'kafka.group.id=paia gw' --check-config
gw_fails "a topic is a Kafka topic name" 2 "gateway.tasks_topic: \"paia/tasks\" is not a name" \
	--embedded -o 'gateway.tasks_topic=paia/tasks' --check-config
gw_fails "storage.result_prefix with a query is refused (every artifact one resource)" 2 \
	"storage.result_prefix must not have a query ('?') or a fragment ('#')" \
	--embedded -o 'storage.result_prefix=https://h/r/?sig=x' --check-config

# --- control.socket naming something else ---------------------------------
printf 'precious data\n' > "$SCRATCH/precious"
gw_fails "control.socket over a regular file: exit 1 naming it" 1 \
	"control socket $SCRATCH/precious: a regular file is there, not a socket" \
	--embedded --state-dir "$SCRATCH/s1" -o "control.socket=$SCRATCH/precious"
check "the file is left as it was" test "$(cat "$SCRATCH/precious")" = "precious data"

# A PUT-accepting HTTP server for results, logging what it was sent.
python3 - "$SCRATCH" <<'PY' &
import http.server, sys, os
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        while n > 0:
            n -= len(self.rfile.read(min(n, 65536)) or b"x" * n)
        with open(os.path.join(d, "puts.log"), "a") as f:
            f.write("%s %s\n" % (self.path, self.headers.get("Authorization", "-")))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(os.path.join(d, "port.tmp"), "w").write(str(s.server_address[1]))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
s.serve_forever()
PY
SRV_PID=$!
wait_for 30 test -s "$SCRATCH/port" || bail "the HTTP server did not start"
PORT=$(cat "$SCRATCH/port")

gw_start -o "storage.result_prefix=http://paia:s3cr3t@127.0.0.1:$PORT/r/"
SOCK=$STATE/control.sock

gw_fails "control.socket of a live gateway: exit 1, not taken over" 1 \
	"control socket $SOCK: another process (a running gateway?) listens on it" \
	--embedded --state-dir "$SCRATCH/s2" -o "control.socket=$SOCK"
check "the live gateway still answers on its socket" quietly ctl status

# A stale socket (its server gone) is replaced.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' \
	"$SCRATCH/stale.sock"
"$GATEWAY" --embedded --state-dir "$SCRATCH/s3" -o "control.socket=$SCRATCH/stale.sock" \
	2>"$SCRATCH/b.log" &
B_PID=$!
check "a stale socket is replaced: the new gateway answers on it" \
	wait_for 30 "$PAIACTL" -S "$SCRATCH/stale.sock" status
check "and says so in its log" grep -q 'stale control socket replaced' "$SCRATCH/b.log"
kill -TERM "$B_PID"; wait "$B_PID"; B_PID=

# --- control requests ---------------------------------------------------
check "control requests: strict JSON, known fields of the right types" python3 - "$SOCK" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sys.argv[1])
f = s.makefile("rwb")
cases = [
    (b'{"cmd":"status"} x', "trailing data ('x') after the value"),
    (b'{"cmd":"status"}{"cmd":"tasks"}', "trailing data ('{')"),
    (b'{"cmd":"status"}\0garbage', "trailing data (a NUL byte)"),
    (b'\xef\xbb\xbf{"cmd":"status"}', "byte order mark"),
    (b'{"cmd":"task","id":"t1","id":"t2"}', 'duplicate name "id"'),
    (b'{"cmd":"task","id":"a\\u0000b"}', "\\u0000 (NUL)"),
    (b'{"cmd":"task","id":"a\0b"}', "control character 0x00"),
    (b'{"cmd":"task","id":"t1\\n"}', "field 'id' must not hold control characters"),
    (b'{"cmd":"tasks","state":1}', "field 'state' must be a string, not a number"),
    (b'{"cmd":"task","id":5}', "field 'id' must be a string, not a number"),
    (b'{"cmd":"lag","check":1}', "field 'check' must be a boolean, not a number"),
    (b'{"cmd":"tasks","sate":"running"}', "unknown field 'sate' for 'tasks' (it takes state)"),
    (b'{"cmd":5}', "field 'cmd' must be a string, not a number"),
    (b'[{"cmd":"status"}]', "not a JSON object (it is an array)"),
]
bad = 0
for line, want in cases:
    f.write(line + b"\n"); f.flush()
    raw = f.readline()
    a = json.loads(raw)
    if a.get("ok") is not False or want not in a.get("error", ""):
        print("# %r -> %s (want %r)" % (line, raw.decode().strip(), want)); bad += 1
# The connection stays open and still answers.
f.write(b'{"cmd":"tasks","state":"active"}\n'); f.flush()
a = json.loads(f.readline())
if a.get("ok") is not True:
    print("# valid request after the bad ones:", a); bad += 1
print("# %d bad requests answered with what is wrong" % (len(cases) - bad))
sys.exit(1 if bad else 0)
PY

# --- task messages: strict JSON, dead-lettered saying what is wrong -----------
declare -a bad=(
	'{"version":1,"task_id":"a\u0000b","game":"catch","program":"file:///x"}'
	'{"version":1,"task_id":"dup","game":"catch","program":"file:///x","program":"file:///y"}'
	'{"version":01,"task_id":"zero","game":"catch","program":"file:///x"}'
	$'\xef\xbb\xbf{"version":1,"task_id":"bom","game":"catch","program":"file:///x"}'
	'{"version":1,"task_id":"creds","game":"catch","program":"file:///x","result_prefix":"https://u:pw@h/r/"}'
)
for b in "${bad[@]}"; do
	ctl submit --raw "$b" >/dev/null || bail "raw submit failed"
done
ctl results --dlq --raw --follow --count 5 --timeout 60 > "$STATE/dlq.json"
check "NUL escapes, names twice, 01, a BOM, credentials in result_prefix are dead-lettered" \
	python3 - "$STATE/dlq.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
want = [("invalid_json", "\\u0000 (NUL) inside a string"),
        ("invalid_json", 'duplicate name "program"'),
        ("invalid_json", "a number has a leading zero"),
        ("invalid_json", "byte order mark"),
        ("invalid_value", "field 'result_prefix' must not carry user information")]
bad = 0
for reason, detail in want:
    if not any(r["reason"] == reason and detail in r["detail"] for r in recs):
        print("# no %s record saying %r" % (reason, detail)); bad += 1
print("# %d records" % len(recs))
sys.exit(1 if bad or len(recs) != len(want) else 0)
PY

# --- credentials in the storage URL: used, never reported --------------------
cp "$SRCDIR/demo/sample-ai.py" "$STATE/programs/sample-ai.py"
ctl submit --id cred --program "file://$STATE/programs/sample-ai.py" \
	--params '{"frames":3,"video":false}' >/dev/null || bail "submit failed"
r=$(result_of cred) || bail "no result for cred"
check "the task succeeded, uploading over http" test "$(jget "$r" 'r["status"]')" = succeeded
check "the upload carried the credentials" \
	grep -q "^/r/cred/1/log.txt Basic $(printf paia:s3cr3t | base64)\$" "$SCRATCH/puts.log"
check "log_url is reported redacted" \
	test "$(jget "$r" 'r["log_url"]')" = "http://REDACTED@127.0.0.1:$PORT/r/cred/1/log.txt"
check "no reported URL in the result carries the password" sh -c '! printf "%s" "$0" | grep -q s3cr3t' "$r"
t=$(ctl task cred --json)
check "nor the control socket's TASK" \
	sh -c 'printf "%s" "$0" | grep -q "REDACTED@127.0.0.1" && ! printf "%s" "$0" | grep -q s3cr3t' "$t"

gw_stop
check "gateway exits 0 (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
