#!/bin/bash
# A real OpenVPN 2.6 link between two network namespaces for tests, as
# PAIA runs it: "cloud" runs the OpenVPN server (and the cloud's
# services: here a TCP stand-in for storage on a cloud network behind
# the server); "local" is where the gateway runs its OpenVPN client.
# Needs root (network namespaces, /dev/net/tun) and Debian's openvpn.
#
# usage: tests/env/openvpn.sh start|stop|status|env|cut SECONDS|link down|up|
#                             server-stop|server-start
#
#   start        create both namespaces and the veth between them, a small
#                PKI in $VPN_DIR (no CA: each side pins the other's
#                certificate with --peer-fingerprint), and start the server
#                in "cloud" with its endpoint stand-in; a no-op when it
#                already runs. The client is NOT started: the tests run it
#                (through the supervisor under test) in "local".
#   stop         kill every process inside both namespaces (ours by
#                construction: the clients tests left behind too), delete
#                the namespaces and the folder; idempotent, and safe after
#                a crash (nothing outside the two namespaces is touched)
#   status       exit 0 when the namespaces exist and the server runs
#   env          print "export NAME=value" lines for tests (eval them):
#                VPN_NS_CLOUD VPN_NS_LOCAL VPN_DIR VPN_CLIENT_CONF
#                VPN_AUTH_FILE (right credentials, mode 0600)
#                VPN_BAD_AUTH_FILE (a wrong password) VPN_SERVER_LOG
#                VPN_SERVER_MGMT (the server's management socket)
#                VPN_CLOUD_CIDR VPN_CLOUD_ENDPOINT (host:port inside it)
#                VPN_UNDERLAY_CIDR VPN_TUN_SERVER VPN_TUN_CLIENT
#                VPN_LOCAL_CIDR
#   cut S        take the local end of the veth down for S seconds, then up
#                again (blocks; run it in the background)
#   link down|up the local end of the veth, by hand
#   server-stop  stop the server only; server-start starts it again
#
# environment:
#   VPN_NS     namespace prefix (default paiavpn): $VPN_NS-cloud, $VPN_NS-local
#   VPN_DIR    PKI, configurations, logs, pid files, sockets
#              (default ${TMPDIR:-/tmp}/paia-vpn)
#   VPN_PORT   the server's UDP port (default 1194)
#
# Addresses (inside the namespaces only): underlay 10.99.0.1 (cloud) and
# .2 (local); tunnel 10.8.0.0/24 (server .1, client .2); the cloud's
# network 10.77.0.0/24 in "cloud", its host 10.77.0.10 (on the loopback)
# running the endpoint stand-in on port 9000 (a plain HTTP server); the
# local network 10.66.0.0/24 in "local", its host 10.66.0.10 (what the cloud
# reaches through the tunnel: the server routes it to the client with
# iroute).
set -eu

VPN_NS=${VPN_NS:-paiavpn}
VPN_DIR=${VPN_DIR:-${TMPDIR:-/tmp}/paia-vpn}
VPN_PORT=${VPN_PORT:-1194}
NS_CLOUD=$VPN_NS-cloud
NS_LOCAL=$VPN_NS-local
PKI=$VPN_DIR/pki
SERVER_PID=$VPN_DIR/server.pid
SERVER_LOG=$VPN_DIR/server.log
SERVER_MGMT=$VPN_DIR/server.sock
HTTP_PID=$VPN_DIR/endpoint.pid
USERS=$VPN_DIR/users
ENDPOINT=10.77.0.10:9000

ENV_NAME=openvpn
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }
server_pid() { pid_of "$SERVER_PID" 'openvpn .*server\.conf'; }

need() {
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces, /dev/net/tun)"
	command -v ip >/dev/null || apt_install iproute2
	command -v openvpn >/dev/null || apt_install openvpn
	command -v openssl >/dev/null || apt_install openssl
	[ -c /dev/net/tun ] || die "no /dev/net/tun (a container needs it and CAP_NET_ADMIN)"
}

# pki: one self-signed EC certificate per side, made once per folder.
pki() {
	local n
	mkdir -p "$PKI"
	chmod 700 "$VPN_DIR" "$PKI"
	for n in server client; do
		[ -s "$PKI/$n.crt" ] && continue
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-keyout "$PKI/$n.key" -out "$PKI/$n.crt" -nodes -days 30 \
			-subj "/CN=$n" 2>/dev/null || die "openssl req failed"
	done
}
fingerprint() { openssl x509 -fingerprint -sha256 -noout -in "$PKI/$1.crt" | cut -d= -f2; }

write_configs() {
	mkdir -p "$VPN_DIR/ccd" "$VPN_DIR/local"
	# The server checks user names and passwords (auth-user-pass-verify
	# via-file) against $USERS: "name password" lines.
	( umask 077
	  printf 'paia s3cret-%s\n' "$(basename "$VPN_DIR")" > "$USERS"
	  printf 'paia\ns3cret-%s\n' "$(basename "$VPN_DIR")" > "$VPN_DIR/local/auth"
	  printf 'paia\nwrong-password\n' > "$VPN_DIR/local/auth.bad" )
	cat > "$VPN_DIR/verify.sh" <<EOF
#!/bin/sh
# \$1: a file with the user name and the password on two lines.
u=\$(sed -n 1p "\$1"); p=\$(sed -n 2p "\$1")
grep -qxF "\$u \$p" "$USERS"
EOF
	chmod 700 "$VPN_DIR/verify.sh"
	# The local network behind the client, for the cloud -> local route.
	echo "iroute 10.66.0.0 255.255.255.0" > "$VPN_DIR/ccd/client"
	cat > "$VPN_DIR/server.conf" <<EOF
# The cloud's end (tests/env/openvpn.sh).
dev tun0
proto udp
local 10.99.0.1
port $VPN_PORT
server 10.8.0.0 255.255.255.0
topology subnet
cert $PKI/server.crt
key $PKI/server.key
dh none
peer-fingerprint $(fingerprint client)
keepalive 1 5
push "route 10.77.0.0 255.255.255.0"
route 10.66.0.0 255.255.255.0
client-config-dir $VPN_DIR/ccd
script-security 2
auth-user-pass-verify $VPN_DIR/verify.sh via-file
tmp-dir $VPN_DIR
management $SERVER_MGMT unix
writepid $SERVER_PID
disable-dco
verb 3
EOF
	cat > "$VPN_DIR/client.conf" <<EOF
# The local end (tests/env/openvpn.sh): the supervisor under test runs it.
client
dev tun0
proto udp
remote 10.99.0.1 $VPN_PORT
nobind
cert $PKI/client.crt
key $PKI/client.key
peer-fingerprint $(fingerprint server)
auth-user-pass
# Short timers, so that tests see a cut link within seconds.
connect-retry 1 2
server-poll-timeout 5
hand-window 5
disable-dco
verb 3
EOF
}

start_server() {
	rm -f "$SERVER_MGMT"
	ip netns exec "$NS_CLOUD" openvpn --config "$VPN_DIR/server.conf" \
		--log-append "$SERVER_LOG" --daemon paia-vpn-server >/dev/null ||
		die "the server did not start (see $SERVER_LOG)"
	for _ in $(seq 1 100); do
		server_pid >/dev/null && grep -q 'Initialization Sequence Completed' "$SERVER_LOG" &&
			return 0
		sleep 0.1
	done
	tail -n 20 "$SERVER_LOG" >&2
	die "the server did not come up in 10 s (log: $SERVER_LOG)"
}

start_endpoint() {
	mkdir -p "$VPN_DIR/www"
	echo "paia cloud endpoint" > "$VPN_DIR/www/index.html"
	( cd "$VPN_DIR/www" && exec ip netns exec "$NS_CLOUD" \
		python3 -m http.server --bind "${ENDPOINT%:*}" "${ENDPOINT#*:}" \
		>"$VPN_DIR/endpoint.log" 2>&1 ) &
	echo $! > "$HTTP_PID"
	for _ in $(seq 1 100); do
		ip netns exec "$NS_CLOUD" bash -c "exec 3<>/dev/tcp/${ENDPOINT%:*}/${ENDPOINT#*:}" \
			2>/dev/null && return 0
		sleep 0.1
	done
	die "the endpoint stand-in did not listen on $ENDPOINT"
}

start() {
	need
	if ns_exists "$NS_CLOUD" && server_pid >/dev/null; then
		say "already running ($NS_CLOUD, $NS_LOCAL)"
		return 0
	fi
	stop >/dev/null
	mkdir -p "$VPN_DIR"
	pki
	write_configs
	ip netns add "$NS_CLOUD"
	ip netns add "$NS_LOCAL"
	# Both ends are made inside the namespaces: no name in the root one.
	ip link add name vc netns "$NS_CLOUD" type veth peer name vl netns "$NS_LOCAL"
	ip -n "$NS_CLOUD" addr add 10.99.0.1/24 dev vc
	ip -n "$NS_LOCAL" addr add 10.99.0.2/24 dev vl
	# The networks behind each end: an address on the loopback (no
	# dummy devices: their module may be missing in a container).
	ip -n "$NS_CLOUD" addr add 10.77.0.10/32 dev lo
	ip -n "$NS_LOCAL" addr add 10.66.0.10/32 dev lo
	for ns in "$NS_CLOUD" "$NS_LOCAL"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$NS_CLOUD" link set vc up
	ip -n "$NS_LOCAL" link set vl up
	start_server
	start_endpoint
	say "server up in $NS_CLOUD (10.99.0.1:$VPN_PORT udp), client side $NS_LOCAL"
}

# kill_ns NS: every process inside the namespace, TERM then KILL.
kill_ns() {
	local pids i
	ns_exists "$1" || return 0
	pids=$(ip netns pids "$1" 2>/dev/null || true)
	[ -n "$pids" ] || return 0
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	for i in $(seq 1 50); do
		pids=$(ip netns pids "$1" 2>/dev/null || true)
		[ -n "$pids" ] || return 0
		sleep 0.1
	done
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	sleep 0.2
}

stop() {
	local ns
	for ns in "$NS_LOCAL" "$NS_CLOUD"; do
		kill_ns "$ns"
		if ns_exists "$ns"; then
			ip netns del "$ns" || say "cannot delete namespace $ns"
		fi
	done
	# The endpoint's subshell runs outside the namespace until exec.
	[ -f "$HTTP_PID" ] && pid=$(cat "$HTTP_PID") && alive "$pid" &&
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'http.server' && kill "$pid" 2>/dev/null
	case $VPN_DIR in
	/ | "") ;;
	*) rm -rf "$VPN_DIR" ;;
	esac
	say "stopped"
}

link() {
	case $1 in
	down | up) ip -n "$NS_LOCAL" link set vl "$1" ;;
	*) die "link down|up" ;;
	esac
}

cmd=${1:-}
case $cmd in
start) start ;;
stop) stop ;;
status) ns_exists "$NS_CLOUD" && ns_exists "$NS_LOCAL" && server_pid >/dev/null ;;
env)
	cat <<EOF
export VPN_NS_CLOUD=$NS_CLOUD
export VPN_NS_LOCAL=$NS_LOCAL
export VPN_DIR=$VPN_DIR
export VPN_CLIENT_CONF=$VPN_DIR/client.conf
export VPN_AUTH_FILE=$VPN_DIR/local/auth
export VPN_BAD_AUTH_FILE=$VPN_DIR/local/auth.bad
export VPN_SERVER_LOG=$SERVER_LOG
export VPN_SERVER_MGMT=$SERVER_MGMT
export VPN_CLOUD_CIDR=10.77.0.0/24
export VPN_CLOUD_ENDPOINT=$ENDPOINT
export VPN_UNDERLAY_CIDR=10.99.0.0/24
export VPN_TUN_SERVER=10.8.0.1
export VPN_TUN_CLIENT=10.8.0.2
export VPN_LOCAL_CIDR=10.66.0.0/24
EOF
	;;
cut)
	s=${2:-}
	case $s in '' | *[!0-9]*) die "cut SECONDS" ;; esac
	link down
	sleep "$s"
	link up
	;;
link) link "${2:-}" ;;
server-stop)
	pid=$(server_pid) && stop_pid "$pid" 10 TERM "openvpn server"
	;;
server-start) server_pid >/dev/null || start_server ;;
*)
	sed -n '8,10p' "$0" >&2
	exit 2
	;;
esac
