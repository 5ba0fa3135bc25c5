#!/bin/bash
# The supervisor restarts openvpn (tests/env/openvpn.sh start first):
#  1. openvpn killed with SIGKILL: BACKOFF naming the signal, a new
#     openvpn (another pid), CONNECTED and healthy again;
#  2. its management socket removed: the supervisor says so and restarts
#     openvpn, which makes the socket again; vpn_free() on a running
#     openvpn kills and collects it;
#  3. the tunnel short of CONNECTED past connect_timeout_s (the link
#     down from the start): restarted, the error says which state openvpn
#     was stuck in; once the link is up, CONNECTED;
#  4. a configuration openvpn refuses: its own words in the error, and a
#     bounded number of restarts.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

healthy_after() { # healthy_after N: a health event with healthy=1 and restarts=N
	seen "^event=health .*restarts=$1 .*healthy=1"
}

# --- 1. SIGKILL -----------------------------------------------------------------
drv kill --config "$VPN_CLIENT_CONF" --auth "$VPN_AUTH_FILE" --cidrs "$VPN_CLOUD_CIDR" \
	--endpoints "$VPN_CLOUD_ENDPOINT" --probe-interval 1 --backoff-min 500 --backoff-max 2000
wait_for 60 healthy_after 0 || bail "not healthy at first"
pid1=$(field "$(last '^event=state state=CONNECTED')" pid)
kill -KILL "$pid1"
check "killed: BACKOFF, the error names the signal" \
	wait_for 20 seen '^event=state state=BACKOFF .*error="openvpn was killed by signal 9 \(Killed\)'
check "not healthy while it is down" seen '^event=health .*restarts=0 .*healthy=0'
check "restarted: healthy again with restarts=1" wait_for 60 healthy_after 1
pid2=$(field "$(last '^event=state state=CONNECTED')" pid)
check "a new openvpn ($pid1 -> $pid2), the old one gone" \
	sh -c '[ "$0" != "$1" ] && ! kill -0 "$0" 2>/dev/null' "$pid1" "$pid2"
l=$(last '^event=state state=BACKOFF')
check "BACKOFF says when the next try is due (next_try_ms after since_ms)" \
	test "$(field "$l" next_try_ms)" -gt "$(field "$l" since_ms)"

# --- 2. the socket removed -----------------------------------------------------
rm -f "$W/kill.sock"
check "the removal is noticed and named" \
	wait_for 20 seen "error=\"the management socket $W/kill.sock was removed"
check "openvpn restarted for it: healthy again with restarts=2" wait_for 60 healthy_after 2
check "the socket is there again" test -S "$W/kill.sock"
check "one openvpn runs (the old one stopped)" test "$(openvpn_pids | wc -l)" = 1
drv_stop
check "stopped (rc=$DRV_RC), no openvpn left" sh -c '[ "$0" = 0 ] && [ -z "$1" ]' "$DRV_RC" "$(openvpn_pids)"

# vpn_free() without a stop first (SIGINT to vpn-test): openvpn killed and
# collected before it returns, nothing left behind, nothing leaked.
drv free --config "$VPN_CLIENT_CONF" --auth "$VPN_AUTH_FILE" --cidrs "$VPN_CLOUD_CIDR"
wait_for 60 seen '^event=health .*healthy=1' || bail "not healthy before the free"
kill -INT "$DRV_PID"
wait "$DRV_PID"
rc=$?
check "freed at once: exits 0 (rc=$rc), no openvpn left" \
	sh -c '[ "$0" = 0 ] && [ -z "$1" ]' "$rc" "$(openvpn_pids)"
check "the socket's openvpn is gone too (the file may stay)" \
	sh -c '! python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])" "$0" 2>/dev/null' \
	"$W/free.sock"

# --- 3. short of CONNECTED past the timeout ----------------------------------------
"$VPNENV" link down
drv slow --config "$VPN_CLIENT_CONF" --auth "$VPN_AUTH_FILE" --cidrs "$VPN_CLOUD_CIDR" \
	--connect-timeout 4 --backoff-min 500 --backoff-max 1000 --probe-interval 1
check "not connected within 4 s: the error says so, with openvpn's state" \
	wait_for 30 seen 'error="not connected within 4 s \(openvpn.s state: [A-Z_]+'
check "and openvpn is restarted" wait_for 30 seen '^event=state state=STARTING restarts=1 '
"$VPNENV" link up
check "the link back: CONNECTED and healthy" wait_for 60 seen '^event=health .*healthy=1'
drv_stop

# --- 4. a configuration openvpn refuses --------------------------------------------
{ cat "$VPN_CLIENT_CONF"; echo "no-such-option 1"; } > "$W/bad.conf"
drv badconf --config "$W/bad.conf" --auth "$VPN_AUTH_FILE" --backoff-min 500 --backoff-max 2000
check "openvpn's own words in the error" \
	wait_for 30 seen 'error="openvpn exited with status 1: Options error: .*no-such-option'
sleep_some() { [ "$(count '^event=state state=BACKOFF')" -ge 4 ]; }
wait_for 30 sleep_some
t0=$(date +%s%N)
n0=$(count '^event=state state=STARTING')
# A window to count starts in (not a wait for something): at the 2 s cap
# each delay is 1 to 2 s, so at most 7 starts in 6 s; a tight loop (an
# openvpn refusing its config lives a few ms) would make hundreds.
sleep 6
n1=$(count '^event=state state=STARTING')
check "restarts stay bounded by the backoff ($((n1 - n0)) in $(( ($(date +%s%N) - t0) / 1000000 )) ms)" \
	test $((n1 - n0)) -le 7
drv_stop
check "stopped in BACKOFF (rc=$DRV_RC)" test "$DRV_RC" = 0

tap_done
