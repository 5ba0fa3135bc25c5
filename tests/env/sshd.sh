#!/bin/bash
# GPU nodes for tests: one real OpenSSH server per node on loopback (its
# own port, host key and config), a probe user with a key, and a
# stand-in nvidia-smi (tests/gpu/nvidia-smi) first on that user's PATH
# that prints fixtures (tests/gpu/fixtures/) chosen per node.
#
# usage: tests/env/sshd.sh start|stop|status|env
#        tests/env/sshd.sh kill N|resume N|rekey N|known-hosts|mode N MODE|fixture N NAME
#
#   start    generate the keys, configs and the known_hosts file, start
#            SSHD_NODES servers and wait until each accepts connections;
#            a no-op for the nodes already running
#   stop     stop every node's server and its sessions, remove $SSHD_DIR
#   status   exit 0 when every node's server runs and accepts connections
#   env      print "export NAME=value" lines for clients (eval them):
#            SSHD_DIR SSHD_PORT SSHD_NODES SSHD_USER SSHD_KEY (the probe's
#            private key) SSHD_OTHER_KEY (a key no node accepts)
#            SSHD_FORCED_KEY (the probe's key restricted to paia-gpu-probe
#            --forced by command= in authorized_keys)
#            SSHD_KNOWN_HOSTS (every node's host key) SSHD_PROC (the
#            fixture process tree for the PID -> cgroup lookup)
#   kill N   SIGKILL node N's server and every session under it (a node
#            that dies mid-round); resume N starts it again, same key
#   rekey N  give node N a new host key and restart it (known_hosts keeps
#            the old one: a changed host key)
#   known-hosts  rewrite known_hosts from the nodes' current host keys
#   mode N MODE     the stand-in's behaviour on node N: normal, hang (never
#                   answers; touches gpu/hung first), garbage, huge (10 MB
#                   on stdout), fail (exits 9 as when the driver is gone)
#   fixture N NAME  node N prints tests/gpu/fixtures/NAME.{query,apps,list}
#
# environment:
#   SSHD_DIR    keys, configs, logs, node state (default ${TMPDIR:-/tmp}/paia-sshd)
#   SSHD_PORT   node 1's port on 127.0.0.1; node N listens on SSHD_PORT+N-1
#               (default 22022)
#   SSHD_NODES  number of nodes (default 3)
#   SSHD_USER   the probe user; default: paia-gpu-test (created, a system
#               user without a home) when run as root, else the current user
#   SSHD_FIXTURES  default fixture of every node (default rtx4080s)
#
# Debian package: openssh-server (apt-installed when missing and root).
# No system sshd is needed or touched: each node runs /usr/sbin/sshd -f
# its own config, privilege separation in /run/sshd.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
SSHD_DIR=${SSHD_DIR:-${TMPDIR:-/tmp}/paia-sshd}
SSHD_PORT=${SSHD_PORT:-22022}
SSHD_NODES=${SSHD_NODES:-3}
SSHD_FIXTURES=${SSHD_FIXTURES:-rtx4080s}
SSHD=/usr/sbin/sshd

ENV_NAME=sshd
. "$HERE/lib.sh"

case $SSHD_NODES in '' | *[!0-9]* | 0) die "SSHD_NODES must be a positive number" ;; esac
case $SSHD_PORT in '' | *[!0-9]*) die "SSHD_PORT must be a port number" ;; esac

if [ -z "${SSHD_USER:-}" ]; then
	if [ "$(id -u)" = 0 ]; then SSHD_USER=paia-gpu-test; else SSHD_USER=$(id -un); fi
fi

node_dir() { echo "$SSHD_DIR/node$1"; }
node_port() { echo $((SSHD_PORT + $1 - 1)); }
node_pid() { pid_of "$(node_dir "$1")/sshd.pid" "sshd.*-f $(node_dir "$1")/sshd_config"; }
check_node() {
	case ${1:-} in '' | *[!0-9]*) die "node number expected, got '${1:-}'" ;; esac
	[ "$1" -ge 1 ] && [ "$1" -le "$SSHD_NODES" ] || die "node $1 is not in 1..$SSHD_NODES"
	[ -d "$(node_dir "$1")" ] || die "node $1 is not set up (start first)"
}

# descendants PID: every process below PID, deepest first.
descendants() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		descendants "$c"
		echo "$c"
	done
}

setup_user() {
	[ "$(id -u)" = 0 ] || return 0
	if ! id "$SSHD_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir / --shell /bin/sh "$SSHD_USER" ||
			die "useradd $SSHD_USER failed"
		say "created the system user $SSHD_USER"
	fi
	# No password ("*"), but not locked ("!"): sshd refuses locked accounts
	# even for keys.
	if [ "$(getent shadow "$SSHD_USER" | cut -d: -f2)" != '*' ]; then
		usermod -p '*' "$SSHD_USER" || die "usermod -p '*' $SSHD_USER failed"
	fi
}

# setup: keys, the stand-in and fixtures, and the shared files (once).
setup() {
	local d
	command -v "$SSHD" >/dev/null 2>&1 || apt_install openssh-server
	command -v ssh-keygen >/dev/null 2>&1 || apt_install openssh-client
	setup_user
	mkdir -p "$SSHD_DIR/bin" "$SSHD_DIR/fixtures"
	chmod 755 "$SSHD_DIR" "$SSHD_DIR/bin" "$SSHD_DIR/fixtures"
	[ -f "$SSHD_DIR/userkey" ] || ssh-keygen -q -t ed25519 -N '' -C paia-gpu-probe -f "$SSHD_DIR/userkey"
	[ -f "$SSHD_DIR/otherkey" ] || ssh-keygen -q -t ed25519 -N '' -C not-authorized -f "$SSHD_DIR/otherkey"
	[ -f "$SSHD_DIR/forcedkey" ] || ssh-keygen -q -t ed25519 -N '' -C paia-gpu-forced -f "$SSHD_DIR/forcedkey"
	install -m 755 "$SRC/tests/gpu/nvidia-smi" "$SSHD_DIR/bin/nvidia-smi"
	install -m 755 "$SRC/gpu/paia-gpu-probe" "$SSHD_DIR/bin/paia-gpu-probe"
	# The probe key as docs/gpu.md has it, with and without its forced
	# command (the fixture /proc stands in for the node's).
	{
		printf 'no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding %s\n' \
			"$(cat "$SSHD_DIR/userkey.pub")"
		printf 'command="%s --forced %s :0",no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc %s\n' \
			"$SSHD_DIR/bin/paia-gpu-probe" "$SSHD_DIR/fixtures/proc" "$(cat "$SSHD_DIR/forcedkey.pub")"
	} >"$SSHD_DIR/authorized_keys"
	chmod 644 "$SSHD_DIR/authorized_keys"
	cp -R "$SRC/tests/gpu/fixtures/." "$SSHD_DIR/fixtures/"
	chmod -R a+rX "$SSHD_DIR/fixtures"
	mkdir -p /run/sshd 2>/dev/null || true
	for d in $(seq 1 "$SSHD_NODES"); do setup_node "$d"; done
}

setup_node() {
	local n=$1 dir port
	dir=$(node_dir "$n")
	port=$(node_port "$n")
	mkdir -p "$dir/gpu"
	chmod 755 "$dir"
	[ -f "$dir/hostkey" ] || ssh-keygen -q -t ed25519 -N '' -C "node$n" -f "$dir/hostkey"
	[ -f "$dir/gpu/fixture" ] || echo "$SSHD_FIXTURES" >"$dir/gpu/fixture"
	[ -f "$dir/gpu/mode" ] || echo normal >"$dir/gpu/mode"
	if [ "$(id -u)" = 0 ]; then chown -R "$SSHD_USER" "$dir/gpu"; fi
	cat >"$dir/sshd_config" <<EOF
# tests/env/sshd.sh: GPU node $n
Port $port
ListenAddress 127.0.0.1
HostKey $dir/hostkey
PidFile $dir/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
AllowUsers $SSHD_USER
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PermitUserEnvironment no
MaxStartups 200
MaxSessions 32
SetEnv PATH=$SSHD_DIR/bin:/usr/bin:/bin PAIA_GPU_NODE=$dir/gpu PAIA_GPU_FIXTURES=$SSHD_DIR/fixtures
LogLevel VERBOSE
EOF
}

known_hosts() {
	local n
	for n in $(seq 1 "$SSHD_NODES"); do
		printf '[127.0.0.1]:%s %s\n' "$(node_port "$n")" \
			"$(cut -d' ' -f1,2 "$(node_dir "$n")/hostkey.pub")"
	done >"$SSHD_DIR/known_hosts"
}

start_node() {
	local n=$1 dir port i
	dir=$(node_dir "$n")
	port=$(node_port "$n")
	if node_pid "$n" >/dev/null; then return 0; fi
	port_open "$port" && die "127.0.0.1:$port (node $n) is already in use by another process"
	rm -f "$dir/sshd.pid"
	# sshd daemonises (its own session) and writes its pid file.
	"$SSHD" -f "$dir/sshd_config" -E "$dir/sshd.log" ||
		{ tail -n 20 "$dir/sshd.log" >&2; die "node $n: sshd did not start"; }
	for i in $(seq 1 100); do
		node_pid "$n" >/dev/null && port_open "$port" && return 0
		sleep 0.1
	done
	tail -n 20 "$dir/sshd.log" >&2
	die "node $n: sshd is not accepting connections on 127.0.0.1:$port after 10 s"
}

# kill_node N [SIG]: the listener first (no new sessions), then its sessions.
kill_node() {
	local pid p kids
	pid=$(node_pid "$1") || return 0
	kids=$(descendants "$pid")
	kill "-${2:-KILL}" "$pid" 2>/dev/null || true
	for p in $kids; do kill -KILL "$p" 2>/dev/null || true; done
	for p in $pid $kids; do
		for _ in $(seq 1 50); do alive "$p" || break; sleep 0.1; done
	done
	rm -f "$(node_dir "$1")/sshd.pid"
}

do_start() {
	local n
	setup
	[ -f "$SSHD_DIR/known_hosts" ] || known_hosts
	for n in $(seq 1 "$SSHD_NODES"); do start_node "$n"; done
	say "ready: $SSHD_NODES nodes on 127.0.0.1:$SSHD_PORT..$(node_port "$SSHD_NODES"), user $SSHD_USER"
}

do_stop() {
	local n
	for n in $(seq 1 "$SSHD_NODES"); do
		[ -d "$(node_dir "$n")" ] || continue
		kill_node "$n" TERM
	done
	case $SSHD_DIR in / | "") die "refusing to remove '$SSHD_DIR'" ;; esac
	rm -rf "$SSHD_DIR"
	say "stopped"
}

do_status() {
	local n
	for n in $(seq 1 "$SSHD_NODES"); do
		node_pid "$n" >/dev/null && port_open "$(node_port "$n")" ||
			{ say "node $n not running"; return 1; }
	done
	say "running: $SSHD_NODES nodes from 127.0.0.1:$SSHD_PORT"
}

do_env() {
	cat <<EOF
export SSHD_DIR=$SSHD_DIR
export SSHD_PORT=$SSHD_PORT
export SSHD_NODES=$SSHD_NODES
export SSHD_USER=$SSHD_USER
export SSHD_KEY=$SSHD_DIR/userkey
export SSHD_OTHER_KEY=$SSHD_DIR/otherkey
export SSHD_FORCED_KEY=$SSHD_DIR/forcedkey
export SSHD_KNOWN_HOSTS=$SSHD_DIR/known_hosts
export SSHD_PROC=$SSHD_DIR/fixtures/proc
EOF
}

case ${1:-} in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
env) do_env ;;
kill) check_node "${2:-}"; kill_node "$2"; say "node $2 killed" ;;
resume) check_node "${2:-}"; start_node "$2"; say "node $2 running" ;;
rekey)
	check_node "${2:-}"
	kill_node "$2" TERM
	rm -f "$(node_dir "$2")/hostkey" "$(node_dir "$2")/hostkey.pub"
	ssh-keygen -q -t ed25519 -N '' -C "node$2-new" -f "$(node_dir "$2")/hostkey"
	start_node "$2"
	say "node $2 has a new host key: $(ssh-keygen -l -f "$(node_dir "$2")/hostkey.pub")"
	;;
mode)
	check_node "${2:-}"
	case ${3:-} in normal | hang | garbage | huge | fail) ;; *) die "mode: normal, hang, garbage, huge or fail" ;; esac
	echo "$3" >"$(node_dir "$2")/gpu/mode"
	rm -f "$(node_dir "$2")/gpu/hung"
	;;
known-hosts) known_hosts; say "known_hosts rewritten: $SSHD_DIR/known_hosts" ;;
fixture)
	check_node "${2:-}"
	[ -f "$SSHD_DIR/fixtures/${3:-}.query" ] || die "no fixture ${3:-} in $SSHD_DIR/fixtures"
	echo "$3" >"$(node_dir "$2")/gpu/fixture"
	;;
*) echo "usage: $0 start|stop|status|env|kill N|resume N|rekey N|known-hosts|mode N MODE|fixture N NAME" >&2; exit 2 ;;
esac
