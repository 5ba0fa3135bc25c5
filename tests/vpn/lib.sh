# lib.sh: shared pieces of the VPN tests (sourced after
# ../integration/lib.sh). They need root, network namespaces and the
# OpenVPN test environment (tests/env/openvpn.sh start): the server runs
# in the "cloud" namespace, and each test runs the supervisor under test
# (vpn-test) in the "local" one. Without root the whole file is skipped.

VPNENV=$SRCDIR/tests/env/openvpn.sh
VPN_TEST=${VPN_TEST:-$BUILDDIR/tests/vpn/vpn-test}

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (network namespaces, /dev/net/tun)"
	exit 0
fi
"$VPNENV" status || bail "no OpenVPN test environment (tests/env/openvpn.sh start)"
[ -x "$VPN_TEST" ] || bail "$VPN_TEST is not built"
eval "$("$VPNENV" env)"
# The test's own folder (sockets, copies of credentials), mode 0700.
W=$(mktemp -d "${TMPDIR:-/tmp}/paia-vpn-test.XXXXXX")
trap 'vpn_cleanup' EXIT

# drv NAME ARGS...: run vpn-test in the local namespace, in the background,
# with its management socket in $W; events in $W/NAME.out, logs in
# $W/NAME.err; DRV_PID is its pid (ip netns exec execs it in place).
drv() {
	local name=$1; shift
	ip netns exec "$VPN_NS_LOCAL" "$VPN_TEST" --socket "$W/$name.sock" "$@" \
		>"$W/$name.out" 2>"$W/$name.err" &
	DRV_PID=$!
	DRV_NAME=$name
}

# drv_stop: SIGTERM, and wait; DRV_RC is its exit status. Any other
# status than 0 is a failure of its own (a crash, a sanitizer report).
drv_stop() {
	kill -TERM "$DRV_PID" 2>/dev/null
	wait "$DRV_PID"
	DRV_RC=$?
	if [ "$DRV_RC" != 0 ]; then
		not_ok "vpn-test $DRV_NAME exited with status $DRV_RC"
		grep -v 'level=' "$W/$DRV_NAME.err" | tail -n 30 | sed 's/^/# /'
	fi
}

# seen PATTERN: a line of the running driver's events matches (grep -E).
seen() { grep -qE -- "$1" "$W/$DRV_NAME.out"; }
# count PATTERN: how many event lines match.
count() { grep -cE -- "$1" "$W/$DRV_NAME.out"; }
# last PATTERN: the last event line matching.
last() { grep -E -- "$1" "$W/$DRV_NAME.out" | tail -n 1; }
# field LINE NAME: a name=value field of an event line (quoted values unquoted).
field() {
	printf '%s\n' "$1" | python3 -c 'import shlex, sys
for w in shlex.split(sys.stdin.read()):
    k, _, v = w.partition("=")
    if k == sys.argv[1]:
        print(v); break' "$2"
}
# in_output TEXT: the driver's events or logs hold TEXT (grep -F).
in_output() { grep -qF -- "$1" "$W/$DRV_NAME.out" "$W/$DRV_NAME.err"; }

# openvpn_pids: openvpn processes in the local namespace.
openvpn_pids() {
	local p
	for p in $(ip netns pids "$VPN_NS_LOCAL" 2>/dev/null); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q '^openvpn ' && echo "$p"
	done
}

drv_dump() {
	[ -n "${DRV_NAME:-}" ] || return 0
	diag "--- $DRV_NAME: events (last 15) ---"
	tail -n 15 "$W/$DRV_NAME.out" | sed 's/^/# /'
	diag "--- $DRV_NAME: log (last 25) ---"
	grep -v 'level=debug' "$W/$DRV_NAME.err" | tail -n 25 | sed 's/^/# /'
}

vpn_cleanup() {
	local p
	if [ -n "${DRV_PID:-}" ] && kill -0 "$DRV_PID" 2>/dev/null; then
		kill -KILL "$DRV_PID" 2>/dev/null
		wait "$DRV_PID" 2>/dev/null
	fi
	for p in $(openvpn_pids); do kill -KILL "$p" 2>/dev/null; done
	"$VPNENV" link up >/dev/null 2>&1 || true
	[ "$tap_failed" -eq 0 ] || drv_dump
	rm -rf "$W"
}
