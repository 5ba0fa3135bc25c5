#!/bin/bash
# tests/gpu/outage.sh: nodes that go away (tests/gpu/gpuprobe-test
# against the real sshd nodes of tests/env/sshd.sh). sshd killed in the
# middle of a round: the node goes stale at once with the reason, keeps
# its last values, and comes back when sshd is back; sshd restarted
# between rounds costs no round (the kept session is replaced); a node
# whose port refuses, and a host that accepts TCP but never speaks SSH,
# are stale with the stage named. TAP.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

# 1. Killed mid-round. Round 1 good; round 2 hangs on the node, sshd is
# killed while it does; round 3 finds nothing; then sshd is back. The
# probe runs until told (-S): the rounds that began after sshd was back
# answer for it, however long sshd took to come back.
rounds() { grep -c '"round":' "$WORK/out"; }
# round_after N: wait for the round two after the N rounds seen so far
# (the next one may have begun before; the one after began later).
round_after() { wait_for 60 grep -q "\"round\":$(($1 + 2))[,}]" "$WORK/out"; }
probe -t 8000 -I 2500 -n 3 -S "$WORK/stop" "$N1" >"$WORK/out" &
BG_PID=$!
wait_for 30 grep -q '"round":1' "$WORK/out"
env_sh mode 1 hang
wait_for 30 test -f "$SSHD_DIR/node1/gpu/hung"
env_sh kill 1
env_sh mode 1 normal
wait_for 30 grep -q '"round":3' "$WORK/out"
env_sh resume 1
k=$(rounds)
round_after "$k"
touch "$WORK/stop"
wait "$BG_PID"
BG_PID=
rm -f "$WORK/stop"
out=$(cat "$WORK/out")
l2=$(line_of "$out" n1 2)
l3=$(line_of "$out" n1 3)
lb=$(line_of "$out" n1 $((k + 2)))
diag "round 2: $(jget "$l2" 'r["stale"]') ($(jget "$l2" 'r["round_ms"]') ms)"
diag "round 3: $(jget "$l3" 'r["stale"]')"
check "round 1 good" jok "$(line_of "$out" n1 1)" 'r["ok"]'
check "sshd killed mid-round: stale at once, not at the 8 s deadline" \
	jok "$l2" 'not r["ok"] and r["round_ms"] < 8000 and "connection closed" in r["stale"]'
check "... the last good values stay" jok "$l2" 'r["gpus"][0]["mem_used"] == 1474 and r["age_ms"] > 0'
check "sshd down: stale, the connection refused" jok "$l3" 'not r["ok"] and "Connection refused" in r["stale"]'
check "sshd back: the node is back (round $((k + 2)))" \
	jok "$lb" 'r["ok"] and r["stale"] is None and r["age_ms"] == 0'

# 2. sshd restarted between rounds: the kept session is dead; the first
# round that began after sshd was back opens a new one and succeeds.
probe -t 8000 -I 2500 -n 1 -S "$WORK/stop" "$N1" >"$WORK/out" &
BG_PID=$!
wait_for 30 grep -q '"round":1' "$WORK/out"
env_sh kill 1
env_sh resume 1
k=$(rounds)
round_after "$k"
touch "$WORK/stop"
wait "$BG_PID"
BG_PID=
rm -f "$WORK/stop"
out=$(cat "$WORK/out")
check "sshd restarted between rounds: no round lost once it is back" \
	jok "$(line_of "$out" n1 $((k + 2)))" 'r["ok"]'

# 3. Nothing listens; something listens that never speaks SSH.
env_sh kill 2
out=$(probe -t 4000 "$N2")
check "a port that refuses: stale, Connection refused" \
	jok "$(line_of "$out" n2 1)" 'not r["ok"] and "connect: Connection refused" in r["stale"]'
env_sh resume 2
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)     # accept, then say nothing
' >"$WORK/mute.port" &
MUTE=$!
wait_for 10 test -s "$WORK/mute.port"
mport=$(cat "$WORK/mute.port")
printf '[127.0.0.1]:%s %s\n' "$mport" "$(cut -d' ' -f1,2 "$SSHD_DIR/node1/hostkey.pub")" >"$WORK/kh"
out=$(drv probe -k "$WORK/kh" -i "$SSHD_KEY" -u "$SSHD_USER" -t 3000 "mute=127.0.0.1:$mport")
kill "$MUTE"
l=$(line_of "$out" mute 1)
diag "$(jget "$l" 'r["stale"]')"
check "a host that never speaks SSH: stale at the deadline, in the handshake" \
	jok "$l" 'not r["ok"] and "no connection within 3000 ms (SSH handshake)" in r["stale"] and 3000 <= r["round_ms"] < 8000'
check "gpuprobe-test exited 0 each run (no crash, no sanitizer report)" drivers_clean
tap_done
