#!/bin/bash
# The veth between "cloud" and "local" cut for 20 s under a connected
# tunnel (tests/env/openvpn.sh start first; the server pushes ping 1 and
# ping-restart 5): RECONNECTING within the ping-restart time, not healthy
# meanwhile, then CONNECTED and healthy again once the link is back,
# with openvpn's own restart (the same process: restarts stays 0, since
# the outage is shorter than connect_timeout_s).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

drv cut --config "$VPN_CLIENT_CONF" --auth "$VPN_AUTH_FILE" --cidrs "$VPN_CLOUD_CIDR" \
	--endpoints "$VPN_CLOUD_ENDPOINT" --probe-interval 1 --probe-timeout 1000 \
	--connect-timeout 90
wait_for 60 seen '^event=health .*healthy=1' || bail "not healthy at first"
pid=$(field "$(last '^event=state state=CONNECTED')" pid)
cut_ms=$(($(date +%s%N) / 1000000))
"$VPNENV" cut 20 &
CUT_PID=$!
check "RECONNECTING within 15 s of the cut" wait_for 15 seen '^event=state state=RECONNECTING'
l=$(last '^event=state state=RECONNECTING')
check "openvpn says why ($(field "$l" detail))" test -n "$(field "$l" detail)"
check "RECONNECTING since after the cut" test "$(field "$l" since_ms)" -ge "$cut_ms"
check "not healthy while the link is down" seen '^event=health .*healthy=0'
kill -USR1 "$DRV_PID"
check "the checks say the tunnel is not connected (view while RECONNECTING)" \
	wait_for 10 seen "^check kind=route target=$VPN_CLOUD_CIDR result=pending reason=\"tunnel not connected\""
wait "$CUT_PID"
up_ms=$(($(date +%s%N) / 1000000))
connected_again() {
	l=$(last '^event=state state=CONNECTED')
	[ -n "$l" ] && [ "$(field "$l" since_ms)" -gt "$cut_ms" ]
}
check "CONNECTED again within 60 s of the link coming back" wait_for 60 connected_again
l=$(last '^event=state state=CONNECTED')
diag "back $(( $(field "$l" since_ms) - up_ms )) ms after the link"
check "healthy again" wait_for 30 sh -c 'tail -n 30 "$0" | grep -q "^event=health .*healthy=1"' "$W/cut.out"
check "the same openvpn process (pid $pid) and no restart by the supervisor" \
	test "$(field "$l" pid) $(field "$l" restarts)" = "$pid 0"
check "connected_ms is the new connection's" test "$(field "$l" connected_ms)" -gt "$cut_ms"
check "the states ran CONNECTED, RECONNECTING, CONNECTED (nothing else)" \
	test "$(grep -oE '^event=state state=[A-Z]+' "$W/cut.out" | sed -n '/CONNECTED$/,$p' | uniq | tr '\n' ' ')" = \
	"event=state state=CONNECTED event=state state=RECONNECTING event=state state=CONNECTED "
drv_stop
check "stops (rc=$DRV_RC)" test "$DRV_RC" = 0

tap_done
