#!/bin/bash
# The gateway's sockets cannot be made to grow it without bound
# (measured on /proc/PID: VmRSS and open descriptors):
#  - control: 12,000 pipelined requests from a client that never reads;
#    more clients than control.max_clients; a flood of connections at a
#    low descriptor limit (accept failures: no log flood, it recovers);
#  - health: a 300 MB request body (413), more connections than
#    health.max_connections.
. "$(dirname "$0")/lib.sh"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$GW_PID/status"; }
nfds() { ls "/proc/$GW_PID/fd" | wc -l; }
SOCK() { echo "$STATE/control.sock"; }
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

gw_start -o control.max_clients=8 -o health.listen=127.0.0.1:$PORT -o health.max_connections=4
P=file://$STATE/programs/sample-ai.py
cp "$SRCDIR/demo/sample-ai.py" "$STATE/programs/sample-ai.py"
ctl submit --id fill --count 40 --program "$P" --params '{"frames":2,"video":false}' >/dev/null
ctl results --follow --count 40 --timeout 120 >/dev/null || diag "not all 40 results came"

# --- a client that never reads its answers -------------------------------------------
# 12,000 "tasks" requests (28 KB answers), then a requeue whose log line says when
# the gateway has done them all. A small send buffer: what the gateway does not read
# stays with the client.
before=$(rss_kb)
python3 - "$(SOCK)" > "$STATE/hog.out" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
s.connect(sys.argv[1])
s.setblocking(False)
req = b'{"cmd":"tasks"}\n' * 12000 + b'{"cmd":"requeue","id":"fill-1"}\n'
sent, stuck = 0, time.time()
while sent < len(req) and time.time() - stuck < 5:
    try:
        sent += s.send(req[sent:sent + 65536])
        stuck = time.time()
    except BlockingIOError:
        time.sleep(0.05)
print("all" if sent == len(req) else sent // 16, flush=True)
time.sleep(3600)
PY
HOG=$!
wait_for 60 test -s "$STATE/hog.out"
took=$(cat "$STATE/hog.out")
# All taken (no backpressure): the requeue's log line marks the end of the answers.
[ "$took" = all ] && wait_for 300 grep -q 'task requeued.*task=fill-1' "$GW_LOG"
check "the gateway still answers others meanwhile" wait_for 120 ctl status
after=$(rss_kb)
diag "requests the gateway read from the client that never reads: $took; RSS ${before} -> ${after} kB"
check "12,000 unread answers do not grow the gateway (RSS +$(( (after - before) / 1024 )) MB)" \
	test $(( after - before )) -lt 40960
check "  its requests were held, not read" test "$took" != all
kill $HOG 2>/dev/null; wait $HOG 2>/dev/null

# --- more clients than control.max_clients (8) ------------------------------------------
python3 - "$(SOCK)" > "$STATE/flood.out" <<'PY' &
import socket, sys, time
socks, refused = [], 0
for i in range(20):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    socks.append(s)
time.sleep(1)
for s in socks:
    s.settimeout(0.2)
    try:
        if b"too many control connections (control.max_clients is 8)" in s.recv(4096):
            refused += 1
    except socket.timeout:
        pass
print(refused, flush=True)
time.sleep(3600)
PY
FLOOD=$!
wait_for 30 test -s "$STATE/flood.out"
check "20 connections, max_clients 8: 12 told so and closed ($(cat "$STATE/flood.out"))" \
	test "$(cat "$STATE/flood.out")" = 12
out=$(ctl status 2>&1)
check "  one more is refused with that error" contains "$out" "too many control connections"
kill $FLOOD 2>/dev/null; wait $FLOOD 2>/dev/null
check "  once they close, clients are served again" wait_for 10 ctl status
check "  the refusals are logged once, with a count" \
	test "$(grep -c 'control connections refused: too many clients' "$GW_LOG")" -le 2

# --- /healthz with a 300 MB body ------------------------------------------------------
before=$(rss_kb)
code=$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
chunk = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"
try:
    for i in range(300):
        s.sendall(chunk)
except OSError:
    pass
s.settimeout(10)
data = b""
try:
    while b"\r\n" not in data:
        d = s.recv(4096)
        if not d:
            break
        data += d
except OSError:
    pass
print(data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else "none")
PY
)
after=$(rss_kb)
check "/healthz with a 300 MB body: 413 ($code)" test "$code" = 413
check "  and no growth (RSS +$(( (after - before) / 1024 )) MB)" test $(( after - before )) -lt 20480
code=$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 314572800\r\n\r\n")
s.settimeout(10)
print(s.recv(4096).split(b" ")[1].decode())
PY
)
check "  announced in Content-Length: 413 at once ($code)" test "$code" = 413
check "/healthz still answers" sh -c "curl -s -m 10 http://127.0.0.1:$PORT/healthz | grep -q ok"

# --- more HTTP connections than health.max_connections (4) -------------------------------
fds=$(nfds)
python3 - "$PORT" > "$STATE/httpflood.out" <<'PY' &
import socket, sys, time
socks = []
for i in range(200):
    socks.append(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
print(len(socks), flush=True)
time.sleep(3600)
PY
HFLOOD=$!
wait_for 30 test -s "$STATE/httpflood.out"
sleep 1
grown=$(( $(nfds) - fds ))
check "200 idle HTTP connections hold at most health.max_connections descriptors (+$grown)" \
	test "$grown" -le 6
check "  a request waits meanwhile" sh -c "! curl -s -m 2 http://127.0.0.1:$PORT/healthz >/dev/null"
kill $HFLOOD 2>/dev/null; wait $HFLOOD 2>/dev/null
check "  and is served once they go" wait_for 20 sh -c "curl -s -m 2 http://127.0.0.1:$PORT/healthz | grep -q ok"
gw_stop
check "gateway exits 0 (rc=$GW_RC)" test "$GW_RC" -eq 0

# --- out of descriptors: accept failures pause the listener, logged once in a while -----
STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-it.XXXXXX")
STATES="$STATES $STATE"
GW_LOG=$STATE/gateway.log
( ulimit -n 200; exec "$GATEWAY" --embedded --state-dir "$STATE" -o control.max_clients=10000 ) 2>"$GW_LOG" &
GW_PID=$!
wait_for 30 ctl status || bail "gateway with 200 descriptors did not start"
mkdir -p "$STATE/programs"
cp "$SRCDIR/demo/sample-ai.py" "$STATE/programs/sample-ai.py"
python3 - "$(SOCK)" > "$STATE/emfile.out" <<'PY' &
import socket, sys, time
# Connect 400 times; a full backlog (the gateway out of descriptors) is retried a while.
socks, stuck = [], time.time()
end = stuck + 20
while len(socks) < 400 and time.time() - stuck < 5 and time.time() < end:
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)
    try:
        s.connect(sys.argv[1])
        socks.append(s)
        stuck = time.time()
    except BlockingIOError:
        s.close()
        time.sleep(0.05)
print(len(socks), flush=True)
time.sleep(5)
print("closing", flush=True)
for s in socks:
    s.close()
time.sleep(3600)
PY
EMF=$!
t0=$(date +%s)
wait_for 60 grep -q closing "$STATE/emfile.out"
took=$(( $(date +%s) - t0 ))
lines=$(grep -c -e 'cannot accept connections' -e 'Error from accept' "$GW_LOG")
check "out of descriptors for ${took} s, accept failures are logged once per 10 s, not millions ($lines)" \
	sh -c "[ $lines -ge 1 ] && [ $lines -le $(( took / 10 + 2 )) ]"
check "  with a count" grep -q 'cannot accept connections.*failures=' "$GW_LOG"
kill $EMF 2>/dev/null; wait $EMF 2>/dev/null
check "  and once they are gone, the gateway answers again" wait_for 30 ctl status
ctl submit --id afterwards --program "file://$STATE/programs/sample-ai.py" --params '{"frames":2,"video":false}' >/dev/null
r=$(result_of afterwards "" 60)
check "  and runs tasks" test "$(jget "$r" 'r["status"]')" = succeeded
gw_stop
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
