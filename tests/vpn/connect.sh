#!/bin/bash
# The supervisor against real openvpn 2.6 in two network namespaces
# (tests/env/openvpn.sh start):
#  1. spawn mode connects: CONNECTED with the tunnel address and device,
#     the cloud CIDR routed through the tunnel, the cloud endpoint
#     reachable through it, healthy; byte counters move;
#  2. failing checks say which and why: a CIDR that leaves through the
#     underlay, a port nobody listens on, an address that never
#     answers (within its deadline), a name that does not resolve; the
#     tunnel stays CONNECTED but not healthy;
#  3. SIGTERM stops openvpn (no openvpn left) and the supervisor;
#  the shipped deploy/openvpn/client.conf.example connects;
#  4. bad options are refused at start, naming the option and value.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

# --- 1. connect -------------------------------------------------------------
drv ok --config "$VPN_CLIENT_CONF" --auth "$VPN_AUTH_FILE" --cidrs "$VPN_CLOUD_CIDR" \
	--endpoints "$VPN_CLOUD_ENDPOINT" --probe-interval 1 --bytecount 1
check "healthy within 60 s (CONNECTED, routes and endpoint checked)" \
	wait_for 60 seen '^event=health .*healthy=1'
l=$(last '^event=state state=CONNECTED')
check "CONNECTED with the tunnel address $VPN_TUN_CLIENT and device tun0 ($l)" \
	test "$(field "$l" tun_ip) $(field "$l" tun_dev)" = "$VPN_TUN_CLIENT tun0"
check "the states went STARTING, CONNECTING, CONNECTED, in that order" \
	test "$(grep -oE '^event=state state=[A-Z]+' "$W/ok.out" | uniq | head -n 3 | tr '\n' ' ')" = \
	"event=state state=STARTING event=state state=CONNECTING event=state state=CONNECTED "
pid=$(field "$l" pid)
check "the pid reported ($pid) is openvpn started with --management-hold" \
	sh -c 'tr "\0" " " </proc/$0/cmdline | grep -q "^openvpn .*--management-hold"' "$pid"
check "the CIDR routes through the tunnel" seen "^check kind=route target=$VPN_CLOUD_CIDR result=ok reason=\"via tun0\""
check "the endpoint answers through it" \
	seen "^check kind=endpoint target=$VPN_CLOUD_ENDPOINT result=ok reason=\"connected to $VPN_CLOUD_ENDPOINT in [0-9]+ ms\""
since=$(field "$l" since_ms)
check "since_ms is the wall clock of the change (within a minute)" \
	sh -c '[ $(( $(date +%s) - $0 / 1000 )) -lt 60 ]' "$since"
# Traffic through the tunnel shows in openvpn's counters.
ip netns exec "$VPN_NS_LOCAL" python3 -c 'import urllib.request,sys
print(len(urllib.request.urlopen("http://%s/" % sys.argv[1], timeout=10).read()))' \
	"$VPN_CLOUD_ENDPOINT" >/dev/null
byte_counts() {
	kill -USR1 "$DRV_PID"
	l=$(last '^event=view')
	[ -n "$l" ] && [ "$(field "$l" bytes_in)" -gt 0 ] && [ "$(field "$l" bytes_out)" -gt 0 ]
}
check "byte counters come from >BYTECOUNT ($(last '^event=view' | grep -oE 'bytes_[a-z]+=[0-9]+' | tr '\n' ' '))" \
	wait_for 20 byte_counts

# --- 3. stop ----------------------------------------------------------------
drv_stop
check "SIGTERM: the supervisor exits 0 (rc=$DRV_RC)" test "$DRV_RC" = 0
check "after STOPPING and then event=stopped" \
	sh -c 'grep -q "^event=state state=STOPPING" "$0" && tail -n 1 "$0" | grep -q "^event=stopped"' "$W/ok.out"
check "no openvpn is left in the namespace" test -z "$(openvpn_pids)"
check "openvpn ended on SIGTERM (not killed)" grep -q 'openvpn stopped.*exited with status 0' "$W/ok.err"

# --- 2. checks that fail ----------------------------------------------------
drv bad --config "$VPN_CLIENT_CONF" --auth "$VPN_AUTH_FILE" \
	--cidrs "$VPN_CLOUD_CIDR $VPN_UNDERLAY_CIDR" \
	--endpoints "$VPN_CLOUD_ENDPOINT,10.77.0.10:9001,10.77.0.99:9000,paia-no-such-host.invalid:443" \
	--probe-interval 1 --probe-timeout 1500
check "a round of checks finishes" wait_for 60 seen '^event=checks state=CONNECTED'
sleep_until_round() { [ "$(count '^event=checks state=CONNECTED')" -ge 2 ]; }
wait_for 30 sleep_until_round
check "the underlay CIDR: fails, naming the address and both devices" \
	seen "^check kind=route target=$VPN_UNDERLAY_CIDR result=failed reason=\"10\.99\.0\.1 leaves through vl, not tun0\""
check "the cloud CIDR still passes" seen "^check kind=route target=$VPN_CLOUD_CIDR result=ok"
check "a closed port: refused" \
	seen '^check kind=endpoint target=10.77.0.10:9001 result=failed reason="connect to 10.77.0.10:9001: Connection refused"'
check "an address that never answers: no answer within the deadline" \
	seen '^check kind=endpoint target=10.77.0.99:9000 result=failed reason="connect to 10.77.0.99:9000: no answer within 1500 ms"'
check "a name that does not resolve: the lookup fails, naming the host" \
	seen '^check kind=endpoint target=paia-no-such-host.invalid:443 result=failed reason="name lookup for paia-no-such-host.invalid: '
check "CONNECTED but never healthy" sh -c '! grep -q "healthy=1" "$0"' "$W/bad.out"
# A deadline of 1.5 s and a round a second: rounds keep coming, the loop never blocks.
t0=$(count '^event=checks'); sleep_rounds() { [ "$(count '^event=checks')" -ge $((t0 + 2)) ]; }
check "rounds keep coming while a probe hangs (the loop is not blocked)" wait_for 20 sleep_rounds
drv_stop
check "stops cleanly with probes in flight (rc=$DRV_RC)" test "$DRV_RC" = 0

# --- the shipped client configuration ------------------------------------------
# deploy/openvpn/client.conf.example with the test's server and PKI in
# place of the placeholders (pinned certificates instead of a CA): the
# rest of it, as shipped, must connect under the supervisor.
sed -e "s|^remote .*|remote 10.99.0.1 1194|" -e '/^ca /d' -e '/^remote-cert-tls /d' \
	-e "s|^cert .*|cert $VPN_DIR/pki/client.crt|" -e "s|^key .*|key $VPN_DIR/pki/client.key|" \
	"$SRCDIR/deploy/openvpn/client.conf.example" > "$W/example.conf"
echo "peer-fingerprint $(openssl x509 -fingerprint -sha256 -noout -in "$VPN_DIR/pki/server.crt" | cut -d= -f2)" \
	>> "$W/example.conf"
drv example --config "$W/example.conf" --auth "$VPN_AUTH_FILE" --cidrs "$VPN_CLOUD_CIDR" \
	--endpoints "$VPN_CLOUD_ENDPOINT" --probe-interval 1
check "deploy/openvpn/client.conf.example connects and is healthy" \
	wait_for 60 seen '^event=health .*healthy=1'
drv_stop

# --- 4. options refused at start ---------------------------------------------
opt_err() { # opt_err EXPECTED ARGS...: vpn-test fails at start with EXPECTED in its error
	local want=$1 out; shift
	out=$("$VPN_TEST" --socket "$W/x.sock" "$@" 2>/dev/null)
	[ $? = 2 ] && printf '%s\n' "$out" | grep -qF -- "$want" || { diag "got: $out"; return 1; }
}
check "a prefix too long" opt_err 'vpn: cidrs: \"10.77.0.0/33\": prefix length above 32' \
	--config "$VPN_CLIENT_CONF" --cidrs 10.77.0.0/33
check "not an address" opt_err 'vpn: cidrs: \"cloud/24\": \"cloud\" is not an IPv4 or IPv6 address' \
	--config "$VPN_CLIENT_CONF" --cidrs cloud/24
check "an endpoint without a port" opt_err 'vpn: endpoints: \"10.77.0.10\": expected host:port' \
	--config "$VPN_CLIENT_CONF" --endpoints 10.77.0.10
check "a port out of range" opt_err 'the port is not a number from 1 to 65535' \
	--config "$VPN_CLIENT_CONF" --endpoints s3.cloud:70000
check "a missing config" opt_err "vpn: config: $W/none.conf: No such file or directory" \
	--config "$W/none.conf"
cp "$VPN_AUTH_FILE" "$W/open.auth"; chmod 644 "$W/open.auth"
check "an auth file others can read" opt_err "others may read or change it (mode 0644; chmod 600)" \
	--config "$VPN_CLIENT_CONF" --auth "$W/open.auth"
ln -s "$VPN_AUTH_FILE" "$W/link.auth"
check "an auth file that is a symlink" opt_err "auth file $W/link.auth: Too many levels of symbolic links" \
	--config "$VPN_CLIENT_CONF" --auth "$W/link.auth"
mkfifo -m 600 "$W/fifo.auth"
check "an auth file that is a FIFO (no hang)" opt_err "auth file $W/fifo.auth: not a regular file" \
	--config "$VPN_CLIENT_CONF" --auth "$W/fifo.auth"
printf 'paia\npass\001word\n' > "$W/ctl.auth"; chmod 600 "$W/ctl.auth"
check "a password with a control byte (it could end the command)" \
	opt_err "the password holds a control character" --config "$VPN_CLIENT_CONF" --auth "$W/ctl.auth"
check "a socket path too long for a unix socket" opt_err "is longer than a unix socket path may be" \
	--config "$VPN_CLIENT_CONF" --socket "/tmp/$(head -c 120 /dev/zero | tr '\0' x)"

tap_done
