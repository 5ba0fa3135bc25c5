#!/bin/bash
# A real S3 server for tests: versitygw (Apache-2.0, checks SigV4
# signatures) on its posix backend, built from the Go module proxy,
# without Docker.
#
# usage: tests/env/s3.sh install|start|stop [--keep]|pause|resume|restart|
#                        freeze|thaw|status|env
#
#   install  build versitygw once into $PAIA_TESTENV_CACHE (idempotent;
#            needs Go >= 1.25 on PATH; the module and build caches live in
#            the cache too, so a fresh machine rebuilds from nothing)
#   start    install if needed, start a fresh server (empty data folder) on
#            127.0.0.1:$S3_PORT, create the bucket $S3_BUCKET and wait until
#            a signed request succeeds; a no-op when it already runs
#   stop     SIGTERM (SIGKILL after 10 s): requests in flight may finish
#            first; then remove the data ("stop --keep" keeps it)
#   pause    SIGKILL the server, keeping objects and multipart uploads:
#            requests in flight are cut (a crash, a network failure)
#   resume   start the server again on the data kept (appending to
#            server.log)
#   restart  stop --keep + resume (a graceful restart under load)
#   freeze   SIGSTOP the server: connections hang instead of failing
#   thaw     SIGCONT it
#   status   exit 0 when the server runs and answers a signed request
#   env      print "export NAME=value" lines for clients (eval them):
#            S3_ENDPOINT S3_REGION S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY,
#            S3_SERVER_LOG (one line per request served),
#            S3_VHOST_ENDPOINT (for virtual-hosted addressing: the server
#            maps <bucket>.localhost to the bucket, and curl resolves
#            *.localhost to the loopback itself) and the gateway's
#            PAIA_STORAGE_S3_* equivalents
#
# environment:
#   PAIA_TESTENV_CACHE  build cache (default $HOME/.cache/paia-testenv): the
#                       binary in versitygw-<version>/bin, Go's module and
#                       build caches in go/mod and go/build
#   S3_DIR              data (data/), metadata sidecar (meta/), server.log,
#                       versitygw.pid (default ${TMPDIR:-/tmp}/paia-s3)
#   S3_PORT             listen port on 127.0.0.1 (default 17070)
#   S3_ACCESS_KEY       root access key (default paia-test)
#   S3_SECRET_KEY       root secret key (default a fixed test secret)
#   S3_BUCKET           bucket created at start (default paia-test)
#   S3_REGION           region (default us-east-1)
#   S3_SIDECAR          1: keep object metadata in a sidecar folder even
#                       when $S3_DIR supports user xattrs (default: only
#                       when it does not, as on tmpfs without user_xattr)
#   VERSITYGW_VERSION   github.com/versity/versitygw version (default v1.8.0)
#   S3_START_TIMEOUT    seconds to wait for readiness, counted from when
#                       the server process starts, after any build
#                       (default 30)
set -eu

VERSITYGW_VERSION=${VERSITYGW_VERSION:-v1.8.0}
CACHE=${PAIA_TESTENV_CACHE:-${HOME:-/tmp}/.cache/paia-testenv}
S3_DIR=${S3_DIR:-${TMPDIR:-/tmp}/paia-s3}
S3_PORT=${S3_PORT:-17070}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-paia-test}
S3_SECRET_KEY=${S3_SECRET_KEY:-paia-test-secret-7d1c0b3e}
S3_BUCKET=${S3_BUCKET:-paia-test}
S3_REGION=${S3_REGION:-us-east-1}
START_TIMEOUT=${S3_START_TIMEOUT:-30}

MODULE=github.com/versity/versitygw
INST=$CACHE/versitygw-$VERSITYGW_VERSION
BIN=$INST/bin/versitygw
STAMP=$INST/.installed
GOCACHE_DIR=$CACHE/go
PIDFILE=$S3_DIR/versitygw.pid
LOG=$S3_DIR/server.log
DATA=$S3_DIR/data
META=$S3_DIR/meta
ENDPOINT=http://127.0.0.1:$S3_PORT
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

ENV_NAME=s3
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

# ---------------------------------------------------------------- helpers --

# our_pid: print the server's pid when the pid file names a live versitygw.
our_pid() { pid_of "$PIDFILE" 'versitygw .*posix'; }

# s3curl METHOD PATH [curl args...]: a SigV4-signed request (curl >= 7.75
# signs; S3 also wants x-amz-content-sha256, which curl 7.88 does not add).
# Prints the HTTP status on the last line.
# The key pair goes through stdin (-K -), not argv, which ps shows.
s3curl() {
	local method=$1 path=$2 how; shift 2
	if [ "$method" = HEAD ]; then how=--head; else how="-X $method"; fi
	# shellcheck disable=SC2086
	printf 'user = "%s:%s"\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" |
		curl -K - -sS -o /dev/null -w '%{http_code}\n' --max-time 5 $how \
		--aws-sigv4 "aws:amz:$S3_REGION:s3" \
		-H "x-amz-content-sha256: $EMPTY_SHA256" "$@" "$ENDPOINT$path" 2>/dev/null || true
}

# ---------------------------------------------------------------- install --

stamp_text() { echo "$MODULE $VERSITYGW_VERSION"; }
installed() { [ -x "$BIN" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_text)" ]; }

# go_ok: a Go on PATH new enough for versitygw's go.mod (go 1.25).
go_ok() {
	local v
	command -v go >/dev/null || return 1
	v=$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null) || return 1
	v=${v#go}
	case $v in
	1.2[5-9]* | 1.[3-9][0-9]* | [2-9].*) return 0 ;;
	*) return 1 ;;
	esac
}

do_install() {
	local t0 tmp go_pid
	installed && return 0
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.versitygw-$VERSITYGW_VERSION.lock"
	if command -v flock >/dev/null; then flock 9; fi
	if installed; then exec 9>&-; return 0; fi
	go_ok || die "Go 1.25 or later is needed on PATH to build versitygw (found: $(go version 2>&1 || echo none))"
	rm -rf "$CACHE/.versitygw-$VERSITYGW_VERSION.tmp."*
	t0=$(date +%s)
	say "building $MODULE/cmd/versitygw@$VERSITYGW_VERSION into $INST"
	tmp=$(mktemp -d "$CACHE/.versitygw-$VERSITYGW_VERSION.tmp.XXXXXX")
	go_pid=
	trap '[ -z "$go_pid" ] || kill -TERM "$go_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
	trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
	mkdir -p "$tmp/bin" "$GOCACHE_DIR/mod" "$GOCACHE_DIR/build"
	# Pure Go (no cgo): no C toolchain needed; -modcacherw lets rm -rf
	# clean the module cache.
	(cd "$tmp" && exec env GOTOOLCHAIN=local GOBIN="$tmp/bin" \
		GOMODCACHE="$GOCACHE_DIR/mod" GOCACHE="$GOCACHE_DIR/build" \
		GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0 \
		go install -trimpath -ldflags "-s -w" "$MODULE/cmd/versitygw@$VERSITYGW_VERSION") \
		>"$tmp/build.log" 2>&1 &
	go_pid=$!
	if ! wait "$go_pid"; then
		go_pid=
		tail -n 40 "$tmp/build.log" >&2
		die "go install $MODULE/cmd/versitygw@$VERSITYGW_VERSION failed"
	fi
	go_pid=
	[ -x "$tmp/bin/versitygw" ] || die "go install produced no versitygw binary"
	"$tmp/bin/versitygw" posix --help >/dev/null 2>&1 || die "the built versitygw does not run"
	stamp_text >"$tmp/.installed"
	rm -rf "$INST"
	mv -T "$tmp" "$INST"
	trap - EXIT HUP INT TERM
	exec 9>&-
	say "installed versitygw $VERSITYGW_VERSION: $(du -sm "$BIN" | cut -f1) MB binary," \
		"$(($(date +%s) - t0)) s"
}

# ------------------------------------------------------------------ start --

# xattr_ok DIR: user extended attributes can be set on files in DIR.
xattr_ok() {
	local f=$1/.xattr-probe rc=1
	: >"$f"
	if command -v python3 >/dev/null; then
		python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.paia", b"1")' "$f" 2>/dev/null && rc=0
	elif command -v setfattr >/dev/null; then
		setfattr -n user.paia -v 1 "$f" 2>/dev/null && rc=0
	fi
	rm -f "$f"
	return $rc
}

fail_start() {
	local pid
	echo "s3: $*" >&2
	echo "---- last 30 lines of $LOG" >&2
	tail -n 30 "$LOG" >&2 2>/dev/null || true
	echo "----" >&2
	pid=$(cat "$PIDFILE" 2>/dev/null || true)
	if [ -n "$pid" ] && alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
	rm -f "$PIDFILE"
	exit 1
}

# do_start [keep]: start the server; without keep on an empty data folder.
do_start() {
	local pid t_start t0 deadline code sidecar=
	if pid=$(our_pid); then
		say "already running (pid $pid) on 127.0.0.1:$S3_PORT"
		return 0
	fi
	t_start=$(date +%s)
	do_install
	command -v curl >/dev/null || apt_install curl
	port_open "$S3_PORT" && die "127.0.0.1:$S3_PORT is already in use by another process"
	rm -f "$PIDFILE"
	if [ "${1:-}" != keep ]; then
		rm -rf "$DATA" "$META"
	fi
	mkdir -p "$DATA"
	if [ "${S3_SIDECAR:-0}" = 1 ] || [ -d "$META" ] || ! xattr_ok "$DATA"; then
		mkdir -p "$META"
		sidecar="--sidecar $META"
	fi
	[ "${1:-}" = keep ] || : >"$LOG"
	# Keys through the environment, not argv: ps shows argv to everyone.
	# setsid: the server outlives this script and the caller's signals.
	# shellcheck disable=SC2086
	ROOT_ACCESS_KEY_ID=$S3_ACCESS_KEY ROOT_SECRET_ACCESS_KEY=$S3_SECRET_KEY \
		setsid "$BIN" --port "127.0.0.1:$S3_PORT" --region "$S3_REGION" --keep-alive \
		--virtual-domain localhost \
		posix $sidecar "$DATA" >>"$LOG" 2>&1 </dev/null 9>&- &
	pid=$!
	echo "$pid" >"$PIDFILE"

	# The deadline counts from here: a cold build above takes minutes.
	t0=$(date +%s)
	deadline=$((t0 + START_TIMEOUT))
	while :; do
		alive "$pid" || fail_start "versitygw exited during startup"
		[ "$(s3curl GET /)" = 200 ] && break
		[ "$(date +%s)" -lt "$deadline" ] || fail_start "not ready after $START_TIMEOUT s"
		sleep 0.2
	done
	# 409 BucketAlreadyOwnedByYou: the bucket is there (resume).
	code=$(s3curl PUT "/$S3_BUCKET")
	case $code in 200 | 409) ;; *) fail_start "creating bucket $S3_BUCKET: HTTP $code" ;; esac
	[ "$(s3curl HEAD "/$S3_BUCKET")" = 200 ] || fail_start "bucket $S3_BUCKET does not answer HEAD"
	say "ready on $ENDPOINT, bucket $S3_BUCKET (versitygw $VERSITYGW_VERSION${sidecar:+, sidecar metadata};" \
		"ready $(($(date +%s) - t0)) s after the server started, $(($(date +%s) - t_start)) s in all)"
}

# ------------------------------------------------------------ stop/status --

# do_stop [keep] [KILL]: SIGTERM lets requests in flight finish first (Go's
# graceful shutdown); SIGKILL cuts them like a crash or a network failure.
do_stop() {
	local pid sig=${2:-TERM}
	if pid=$(our_pid); then
		stop_pid "$pid" 10 "$sig" versitygw
		say "stopped (pid $pid)"
	else
		say "not running"
	fi
	rm -f "$PIDFILE"
	[ "${1:-}" = keep ] || rm -rf "$DATA" "$META"
}

do_signal() {
	local pid
	pid=$(our_pid) || die "not running"
	kill "-$1" "$pid"
	say "$2 (pid $pid)"
}

do_status() {
	local pid
	if pid=$(our_pid) && [ "$(s3curl GET /)" = 200 ]; then
		say "running (pid $pid) on $ENDPOINT"
		return 0
	fi
	say "not running on $ENDPOINT"
	return 1
}

do_env() {
	cat <<EOF
export S3_ENDPOINT=$ENDPOINT
export S3_REGION=$S3_REGION
export S3_BUCKET=$S3_BUCKET
export S3_ACCESS_KEY=$S3_ACCESS_KEY
export S3_SECRET_KEY=$S3_SECRET_KEY
export S3_SERVER_LOG=$LOG
export S3_VHOST_ENDPOINT=http://localhost:$S3_PORT
export PAIA_STORAGE_S3_ENDPOINT=$ENDPOINT
export PAIA_STORAGE_S3_REGION=$S3_REGION
export PAIA_STORAGE_S3_ACCESS_KEY=$S3_ACCESS_KEY
export PAIA_STORAGE_S3_SECRET_KEY=$S3_SECRET_KEY
EOF
}

case ${1:-} in
install) do_install; installed && say "versitygw $VERSITYGW_VERSION installed in $INST" ;;
start) do_start ;;
stop) if [ "${2:-}" = --keep ]; then do_stop keep; else do_stop; fi ;;
pause) do_stop keep KILL ;;
resume) do_start keep ;;
restart) do_stop keep; do_start keep ;;
freeze) do_signal STOP frozen ;;
thaw) do_signal CONT thawed ;;
status) do_status ;;
env) do_env ;;
*) echo "usage: $0 install|start|stop [--keep]|pause|resume|restart|freeze|thaw|status|env" >&2; exit 2 ;;
esac
