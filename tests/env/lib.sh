# lib.sh: what the tests/env/ scripts share (sourced after ENV_NAME is
# set): messages, process checks, the loopback port probe, apt, the Go finder.

say() { echo "$ENV_NAME: $*"; }
die() { echo "$ENV_NAME: $*" >&2; exit 1; }

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
	[ "$st" != Z ]
}

# pid_of FILE PATTERN: print the pid FILE names when that process is alive
# and its command line matches PATTERN (grep -E), so a stale pid file or a
# recycled pid is never taken for our server.
pid_of() {
	local pid
	[ -f "$1" ] || return 1
	pid=$(cat "$1" 2>/dev/null) || return 1
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE "$2" || return 1
	echo "$pid"
}

# port_open PORT [HOST]: something accepts connections on HOST:PORT (127.0.0.1).
port_open() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }

# apt_install PACKAGE...: install Debian packages (root only), else say which.
apt_install() {
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
		die "missing $*: install them (Debian: apt-get install -y $*)"
	say "apt-get install -y $*"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q "$@" >/dev/null ||
		{ apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null; } ||
		die "apt-get install $* failed"
}

# stop_pid PID GRACE_S [SIG] [NAME]: send SIG (default TERM; a frozen
# process is woken first so it can act on it), wait up to GRACE_S seconds,
# then SIGKILL and wait up to 5 s more.
stop_pid() {
	local i sig=${3:-TERM}
	kill -CONT "$1" 2>/dev/null || true
	kill "-$sig" "$1" 2>/dev/null || true
	for i in $(seq 1 $(($2 * 10))); do
		alive "$1" || return 0
		sleep 0.1
	done
	say "${4:-pid $1} still running $2 s after SIG$sig: SIGKILL"
	kill -KILL "$1" 2>/dev/null || true
	for i in $(seq 1 50); do
		alive "$1" || return 0
		sleep 0.1
	done
}

# go_minor GO: print N of the go1.N version GO runs as (no toolchain switch).
go_minor() {
	GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9][0-9]*\).*/\1/p'
}

# find_go MINOR: the first Go 1.MINOR or later among $GO, PATH's, /usr/local/go's.
find_go() {
	local g m
	for g in ${GO:-} "$(command -v go || true)" /usr/local/go/bin/go /usr/lib/go/bin/go; do
		[ -n "$g" ] && [ -x "$g" ] || continue
		m=$(go_minor "$g")
		[ -n "$m" ] && [ "$m" -ge "$1" ] && { echo "$g"; return 0; }
	done
	return 1
}
