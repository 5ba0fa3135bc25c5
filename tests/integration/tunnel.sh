#!/bin/bash
# The VPN supervisor inside the gateway (gateway/tunnel.c), without root
# or a real tunnel (tests/vpn/gateway.sh runs the real one): a stand-in
# openvpn that fails on its configuration, run by the gateway in spawn
# mode, restarted with backoff.
#  - [vpn] errors: exit 2 at --check-config naming the key, exit 1 at
#    start with vpn/'s own words;
#  - openvpn's exit status reaches the supervisor while the local runner
#    collects games in the same process (one SIGCHLD handler, the
#    reaper): the error quotes openvpn's line, not "collected elsewhere";
#  - paiactl vpn (a summary and the checks; --json; exit 3 while not
#    healthy), STATUS's vpn, "vpn" events on subscribe;
#  - vpn.pause_intake_when_down: intake paused while it is down; without
#    it games run and succeed with the tunnel down;
#  - /metrics shows the tunnel; /healthz fails after vpn.unhealthy_after_s;
#  - SIGTERM: the gateway exits 0, no stand-in left.
. "$(dirname "$0")/lib.sh"

W=$(mktemp -d "${TMPDIR:-/tmp}/paia-tunnel.XXXXXX")
STATES="$W"
FAKE=$W/openvpn
# Like openvpn 2.6 given a configuration it cannot use: a line saying
# why, then exit 1, after a moment (so that its exits meet games').
cat > "$FAKE" <<'EOF'
#!/bin/sh
sleep 0.3
echo "Options error: Unrecognized option or missing or extra parameter(s) in $2:1: bogus-option (2.6.14)"
echo "Use --help for more information."
exit 1
EOF
chmod 755 "$FAKE"
echo bogus-option > "$W/client.conf"
VPN="-o vpn.mode=spawn -o vpn.openvpn=$FAKE -o vpn.config=$W/client.conf -o vpn.cidrs=10.77.0.0/24
	-o vpn.backoff_min_ms=200 -o vpn.backoff_max_ms=600"

# --- [vpn] errors ------------------------------------------------------------
out=$("$GATEWAY" --embedded -o vpn.mode=spawn --check-config 2>&1); rc=$?
check "spawn mode without vpn.config: exit 2, naming it" fails_with $rc "$out" \
	"vpn.mode = spawn needs vpn.config"
out=$("$GATEWAY" --embedded -o vpn.mode=attach --check-config 2>&1); rc=$?
check "attach mode without vpn.management_socket: exit 2, naming it" fails_with $rc "$out" \
	"vpn.mode = attach needs vpn.management_socket"
out=$("$GATEWAY" --embedded -o vpn.mode=sideways --check-config 2>&1); rc=$?
check "an unknown mode: exit 2 with the modes" fails_with $rc "$out" "off|spawn|attach"
# shellcheck disable=SC2086
out=$("$GATEWAY" --embedded --state-dir "$W/bad" $VPN -o vpn.cidrs=10.77.0.0/33 2>&1); rc=$?
check "a bad CIDR stops the start (exit 1) in vpn/'s words" \
	sh -c '[ "$0" -eq 1 ] && printf "%s" "$1" | grep -q "vpn: cidrs: .*10.77.0.0/33.*prefix length above 32"' \
	"$rc" "$out"

# --- the stand-in, restarted; intake paused while it is down -------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# shellcheck disable=SC2086
gw_start $VPN -o vpn.pause_intake_when_down=true -o vpn.unhealthy_after_s=1 \
	-o health.listen=127.0.0.1:$PORT
ctl watch > "$W/events" 2>/dev/null &
WATCH=$!
vpn_json() { ctl vpn --json; }
vfield() { vpn_json | python3 -c 'import json,sys; v=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
quoted() { vfield '"exited with status 1: Options error: Unrecognized option" in (v.get("error") or "")' | grep -q True; }
check "openvpn's exit reaches the supervisor, quoting its line" wait_for 30 quoted
check "...never 'collected elsewhere' (the reaper hands it over)" \
	sh -c '! grep -q "collected elsewhere" "$0"' "$GW_LOG"
restarted() { [ "$(vfield 'v["restarts"]')" -ge 2 ]; }
check "it is started again with backoff (restarts counted)" wait_for 30 restarted
check "the view: spawn mode, not healthy, the route check pending" \
	test "$(vfield 'v["enabled"], v["mode"], v["healthy"], [(c["kind"], c["target"], c["result"]) for c in v["checks"]]')" = \
	"(True, 'spawn', False, [('route', '10.77.0.0/24', 'pending')])"
out=$(ctl vpn); rc=$?
check "paiactl vpn: exit 3 while not healthy" test "$rc" -eq 3
check "...a summary (state, openvpn, last error) and the checks" \
	sh -c 'printf "%s" "$0" | grep -q "^state .*NOT healthy" &&
	       printf "%s" "$0" | grep -q "^openvpn .*spawn mode, [0-9]* restarts" &&
	       printf "%s" "$0" | grep -q "^last error .*Options error" &&
	       printf "%s" "$0" | grep -qE "^route +10.77.0.0/24 +pending"' "$out"
st=$(ctl status --json)
check "STATUS: the tunnel's state, not healthy" \
	test "$(jget "$st" 'r["vpn"]["healthy"], r["vpn"]["state"] in ("STARTING", "BACKOFF")')" = "(False, True)"
paused() {
	ctl status --json | python3 -c 'import json,sys; s=json.load(sys.stdin)
sys.exit(0 if s["paused"] and s["partitions"] and all(p["paused"] for p in s["partitions"]) else 1)'
}
check "vpn.pause_intake_when_down: every partition paused while it is down" wait_for 30 paused
check "...and the VPN view says so" test "$(vfield 'v["intake_paused"]')" = True
vpn_events() { grep -q '^{"event":"vpn","vpn":{"enabled":true' "$W/events"; }
check "subscribers get vpn events" wait_for 10 vpn_events
metrics=$(curl -s "http://127.0.0.1:$PORT/metrics")
check "/metrics: the state (one of them), healthy 0, restarts, the route check pending" \
	sh -c 'printf "%s" "$0" | grep -c "^paia_vpn_state{state=\"[A-Z]*\"} 1$" | grep -qx 1 &&
	       printf "%s" "$0" | grep -q "^paia_vpn_healthy 0$" &&
	       printf "%s" "$0" | grep -qE "^paia_vpn_restarts_total [1-9]" &&
	       printf "%s" "$0" | grep -q "^paia_vpn_check_ok{kind=\"route\",target=\"10.77.0.0/24\"} -1$"' "$metrics"
unhealthy() {
	curl -s -o "$W/healthz" -w '%{http_code}' "http://127.0.0.1:$PORT/healthz" | grep -qx 503 &&
		grep -q "vpn: not healthy for [0-9]* s, over vpn.unhealthy_after_s (1): the tunnel is" "$W/healthz"
}
check "/healthz: 503 once down longer than vpn.unhealthy_after_s, saying why" wait_for 30 unhealthy
kill "$WATCH" 2>/dev/null
wait "$WATCH" 2>/dev/null
gw_stop
check "SIGTERM: exit 0 (rc=$GW_RC)" test "$GW_RC" -eq 0
stand_in_gone() { ! pgrep -f "sh $FAKE --config" >/dev/null; }
check "no stand-in openvpn left" stand_in_gone

# --- without the pause: games run and succeed while the tunnel is down ---------
# shellcheck disable=SC2086
gw_start $VPN
cp "$SRCDIR/demo/sample-ai.py" "$STATE/programs/sample-ai.py"
ctl submit --id down --count 6 --program "file://$STATE/programs/sample-ai.py" \
	--params '{"frames":3,"video":false}' >/dev/null
ctl results --follow --count 6 --timeout 120 >/dev/null || diag "not all 6 results came"
check "6 games run and succeed while openvpn keeps failing" \
	test "$(ctl results --raw | python3 -c 'import json,sys; print(sum(json.loads(l)["status"] == "succeeded" for l in sys.stdin))')" = 6
check "...and openvpn's exits were still its own" \
	sh -c 'grep -q "exited with status 1: Options error" "$0" && ! grep -q "collected elsewhere" "$0"' "$GW_LOG"
gw_stop
check "exit 0 (rc=$GW_RC)" test "$GW_RC" -eq 0
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
