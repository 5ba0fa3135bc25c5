#!/bin/bash
# Attach mode: openvpn run by something else (here a daemon this test
# starts, as systemd's openvpn-client@ would), watched through its
# management socket only (tests/env/openvpn.sh start first):
#  1. an openvpn already connected: CONNECTED from the "state" reply,
#     its pid from the "pid" reply, healthy;
#  2. the supervisor stopping leaves openvpn running (not ours);
#  3. openvpn gone: BACKOFF naming the socket, retried with backoff;
#     openvpn back: CONNECTED again;
#  4. an openvpn holding for a management client (--management-hold):
#     the supervisor releases it;
#  5. sockets that must not be used: a regular file, a socket of another
#     user, a management interface that asks for a password.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

# sys_start NAME [ARGS...]: openvpn as a daemon in "local", its socket $W/NAME.sock.
sys_start() {
	local name=$1; shift
	rm -f "$W/$name.log"
	ip netns exec "$VPN_NS_LOCAL" openvpn --config "$VPN_CLIENT_CONF" \
		--auth-user-pass "$VPN_AUTH_FILE" --management "$W/$name.sock" unix \
		--writepid "$W/$name.pid" --log "$W/$name.log" --daemon "paia-test-$name" "$@"
}
sys_pid() { cat "$W/$1.pid" 2>/dev/null; }
sys_up() { grep -q 'Initialization Sequence Completed' "$W/$1.log" 2>/dev/null; }

# --- 1. attach to a connected openvpn ---------------------------------------------
sys_start sys || bail "cannot start openvpn"
wait_for 30 sys_up sys || bail "openvpn did not connect"
drv sys --attach --cidrs "$VPN_CLOUD_CIDR" --endpoints "$VPN_CLOUD_ENDPOINT" --probe-interval 1 \
	--backoff-min 500 --backoff-max 2000
check "CONNECTED at once, from the state reply" wait_for 20 seen '^event=state state=CONNECTED'
check "healthy" wait_for 20 seen '^event=health .*healthy=1'
l=$(last '^event=state state=CONNECTED')
check "the pid from openvpn's own \"pid\" reply ($(field "$l" pid))" test "$(field "$l" pid)" = "$(sys_pid sys)"
check "the tunnel address from the state reply" test "$(field "$l" tun_ip)" = "$VPN_TUN_CLIENT"

# --- 2. stopping leaves it running ------------------------------------------------
drv_stop
check "the supervisor stops (rc=$DRV_RC)" test "$DRV_RC" = 0
check "openvpn still runs: attach mode does not own it" kill -0 "$(sys_pid sys)"

# --- 3. openvpn gone, then back --------------------------------------------------------
drv sys --attach --cidrs "$VPN_CLOUD_CIDR" --probe-interval 1 --backoff-min 500 --backoff-max 2000
wait_for 20 seen '^event=health .*healthy=1' || bail "not healthy on the second attach"
old=$(sys_pid sys)
n0=$(count '^event=state state=CONNECTED')
kill -TERM "$old"
check "openvpn ended: BACKOFF, the error names the socket" \
	wait_for 20 seen "^event=state state=BACKOFF .*error=\"management connection to $W/sys.sock closed by openvpn"
check "the socket gone: retried, the error says why" \
	wait_for 20 seen "^event=state state=BACKOFF .*error=\"management socket $W/sys.sock: (No such file or directory|Connection refused)"
check "not healthy" seen '^event=health .*healthy=0'
sys_start sys || bail "cannot start openvpn again"
again() { [ "$(count '^event=state state=CONNECTED')" -gt "$n0" ]; }
check "openvpn back: CONNECTED again" wait_for 30 again
l=$(last '^event=state state=CONNECTED')
check "with the new pid and the reconnections counted (restarts=$(field "$l" restarts))" \
	sh -c '[ "$0" = "$1" ] && [ "$2" -ge 1 ]' "$(field "$l" pid)" "$(sys_pid sys)" "$(field "$l" restarts)"
# Its socket removed: attach mode says so, once, and keeps watching.
rm -f "$W/sys.sock"
check "the socket removed: said so" \
	wait_for 20 seen "error=\"the management socket $W/sys.sock was removed"
n1=$(count '^event=checks')
more_rounds() { [ "$(count '^event=checks')" -ge $((n1 + 2)) ]; }
wait_for 20 more_rounds
check "once, while the rounds go on" test "$(grep -c 'was removed' "$W/sys.err")" = 1
check "still CONNECTED, openvpn not touched" \
	sh -c '[ "$(grep "^event=" "$0" | tail -n 1 | grep -o "state=[A-Z]*")" = state=CONNECTED ] && kill -0 "$1"' \
	"$W/sys.out" "$(sys_pid sys)"
drv_stop
kill -TERM "$(sys_pid sys)"
wait_for 10 sh -c '! kill -0 "$0" 2>/dev/null' "$(sys_pid sys)"

# --- 4. an openvpn waiting for its hold release ------------------------------------
sys_start hold --management-hold || bail "cannot start openvpn"
wait_for 10 test -S "$W/hold.sock"
drv hold --attach --cidrs "$VPN_CLOUD_CIDR" --probe-interval 1
check "released from its hold: CONNECTED and healthy" wait_for 30 seen '^event=health .*healthy=1'
check "openvpn logged our release" grep -q "hold release" "$W/hold.log"
drv_stop
kill -TERM "$(sys_pid hold)"

# --- 5. sockets not to use ------------------------------------------------------------
: > "$W/file.sock"
drv file --attach --backoff-min 500 --backoff-max 1000
check "a regular file: not a socket" wait_for 10 seen "error=\"management socket $W/file.sock: not a socket\""
drv_stop
python3 -c 'import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chown(sys.argv[1], 65534, 65534)' "$W/other.sock"
drv other --attach --backoff-min 500 --backoff-max 1000
check "a socket of another user: refused, naming the owner" \
	wait_for 10 seen "error=\"management socket $W/other.sock: owned by uid 65534, not by root or us\""
drv_stop
printf 'secret-of-the-interface\n' > "$W/mgmt.pw"
chmod 600 "$W/mgmt.pw"
ip netns exec "$VPN_NS_LOCAL" openvpn --config "$VPN_CLIENT_CONF" --auth-user-pass "$VPN_AUTH_FILE" \
	--management "$W/pw.sock" unix "$W/mgmt.pw" --management-hold --writepid "$W/pw.pid" \
	--log "$W/pw.log" --daemon paia-test-pw
wait_for 10 test -S "$W/pw.sock"
drv pw --attach --backoff-min 500 --backoff-max 1000
check "a management password prompt: said so, not answered" \
	wait_for 15 seen "error=\"openvpn's management interface asks for a password: not supported"
drv_stop
kill -TERM "$(sys_pid pw)"

tap_done
