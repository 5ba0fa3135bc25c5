#!/bin/bash
# Credentials (tests/env/openvpn.sh start first; the server checks user
# name and password with auth-user-pass-verify):
#  1. a wrong password: a clear error naming the file, restarts with
#     backoff (bounded: a count over a window), never a tight loop;
#  2. the file fixed while the supervisor waits: it is read again when
#     openvpn asks, and the tunnel comes up;
#  3. the password never appears in any output, debug logs and
#     openvpn's own lines included;
#  4. openvpn asks for credentials and no auth file is set: said so.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

good=$(sed -n 2p "$VPN_AUTH_FILE")
bad=$(sed -n 2p "$VPN_BAD_AUTH_FILE")
install -m 600 "$VPN_BAD_AUTH_FILE" "$W/vpn.auth"

# --- 1. wrong password ----------------------------------------------------------
drv auth -v --config "$VPN_CLIENT_CONF" --auth "$W/vpn.auth" --cidrs "$VPN_CLOUD_CIDR" \
	--backoff-min 1000 --backoff-max 4000
check "a clear error: the server refused the credentials from the file" \
	wait_for 30 seen "error=\"authentication failed: the server refused the user name or password from $W/vpn.auth"
check "the exit that followed is named too" \
	wait_for 30 seen '^event=state state=BACKOFF .*error="authentication failed: .*; openvpn exited with status 0: AUTH: Received control message: AUTH_FAILED"'
three() { [ "$(count '^event=state state=BACKOFF')" -ge 3 ]; }
check "it retries" wait_for 30 three
n0=$(count '^event=state state=STARTING')
t0=$(date +%s%N)
# A window to count tries in (not a wait for something): the delays have
# reached the 4 s cap (2 to 4 s each), so at most 6 tries in 12 s; a tight
# loop (a refusal takes about 50 ms) would make more than 200.
sleep 12
n1=$(count '^event=state state=STARTING')
check "bounded: $((n1 - n0)) tries in $(( ($(date +%s%N) - t0) / 1000000 )) ms (at most 6)" \
	test $((n1 - n0)) -le 6
check "at least one try in the window (it keeps trying)" test $((n1 - n0)) -ge 1
l=$(last '^event=state')
check "auth_failures counts the refusals ($(field "$l" auth_failures))" \
	test "$(field "$l" auth_failures)" -ge 3
check "never healthy" sh -c '! grep -q "healthy=1" "$0"' "$W/auth.out"

# --- 2. fixed while it waits -------------------------------------------------------
install -m 600 "$VPN_AUTH_FILE" "$W/vpn.auth.new"
mv "$W/vpn.auth.new" "$W/vpn.auth"
check "the right password in the file: CONNECTED at the next try" \
	wait_for 30 seen '^event=state state=CONNECTED'
check "and healthy" wait_for 20 seen '^event=health .*healthy=1'
drv_stop

# --- 3. never in an output ------------------------------------------------------------
check "the good password is in no output (events, debug log)" sh -c '! grep -rqF -- "$0" "$1"/auth.out "$1"/auth.err' "$good" "$W"
check "nor the wrong one" sh -c '! grep -rqF -- "$0" "$1"/auth.out "$1"/auth.err' "$bad" "$W"
check "the debug log did see openvpn's own lines (so the check means something)" \
	grep -q 'msg="openvpn" .*line=' "$W/auth.err"

# --- 4. no auth file ------------------------------------------------------------------
drv noauth --config "$VPN_CLIENT_CONF" --backoff-min 1000 --backoff-max 2000
check "without an auth file openvpn cannot ask us, and cannot read a terminal: its words" \
	wait_for 30 seen '^event=state state=BACKOFF .*error="openvpn exited with status 1: .*(Auth|auth|username)'
drv_stop

tap_done
