# lib.sh: shared pieces of the integration tests (sourced, bash).
# TAP output: plan at the end, one "ok N - name" or "not ok N - name" per check.
#
# Environment: BUILDDIR (the build tree, default .), SRCDIR (default .).

set -u
BUILDDIR=${BUILDDIR:-.}
SRCDIR=${SRCDIR:-.}
GATEWAY=${GATEWAY:-$BUILDDIR/gateway/paia-gateway}
PAIACTL=${PAIACTL:-$BUILDDIR/paiactl/paiactl}
tap_n=0
tap_failed=0

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1)); echo "not ok $tap_n - $*"; }
# check NAME COMMAND...: one TAP line from a command's status.
check() {
	local name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
diag() { printf '# %s\n' "$@"; }
tap_done() { echo "1..$tap_n"; [ "$tap_failed" -eq 0 ]; }
bail() { echo "Bail out! $*"; gw_dump_log; exit 99; }

# wait_for SECONDS COMMAND...: poll a condition until it holds or time runs out.
wait_for() {
	local limit=$(( $(date +%s) + $1 )); shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$limit" ] || return 1
		sleep 0.1
	done
}

# gw_start [ARGS...]: an embedded gateway in its own state folder
# (REUSE_STATE=1: in the current $STATE, as after a crash; GW_WRAP: a
# command the gateway runs under, e.g. setpriv to another user).
gw_start() {
	if [ "${REUSE_STATE:-0}" != 1 ]; then
		STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-it.XXXXXX")
		STATES="${STATES:-} $STATE"
	fi
	GW_LOG=$STATE/gateway.log
	${GW_WRAP:-} "$GATEWAY" --embedded --state-dir "$STATE" "$@" 2>"$GW_LOG" &
	GW_PID=$!
	wait_for 30 test -s "$STATE/embedded.json" || bail "gateway did not write embedded.json"
	wait_for 30 "$PAIACTL" -d "$STATE" status || bail "gateway control socket not answering"
	mkdir -p "$STATE/programs"
}

# gw_stop: SIGTERM and wait; sets GW_RC.
gw_stop() {
	kill -TERM "$GW_PID" 2>/dev/null
	wait "$GW_PID"
	GW_RC=$?
}

gw_dump_log() {
	[ -n "${GW_LOG:-}" ] && [ -f "$GW_LOG" ] || return 0
	diag "--- gateway log (last 40 lines) ---"
	tail -n 40 "$GW_LOG" | sed 's/^/# /'
}

ctl() { "$PAIACTL" -d "$STATE" "$@"; }

# program NAME BODY: a user program (shell script) under the storage root.
program() {
	printf '#!/bin/sh\n%s\n' "$2" > "$STATE/programs/$1"
	chmod +x "$STATE/programs/$1"
	echo "file://$STATE/programs/$1"
}

# task_field ID FIELD: a field of the gateway's view of a task.
task_field() {
	ctl task "$1" --json | python3 -c 'import json,sys; v=json.load(sys.stdin)
t=v.get("task", v)
print(t.get(sys.argv[1]))' "$2"
}

cleanup() {
	if [ -n "${GW_PID:-}" ] && kill -0 "$GW_PID" 2>/dev/null; then
		kill -KILL "$GW_PID" 2>/dev/null
		wait "$GW_PID" 2>/dev/null
	fi
	if [ "${KEEP_STATE:-0}" != 1 ]; then
		for s in ${STATES:-} ${STATE:-}; do rm -rf "$s"; done
	fi
}
trap cleanup EXIT

# result_of ID [ATTEMPT] [SECONDS]: wait for a task's result; print its JSON.
result_of() {
	local id=$1 attempt=${2:-} limit=$(( $(date +%s) + ${3:-60} )) out
	while :; do
		out=$(ctl results --raw 2>/dev/null | python3 -c '
import json, sys
want, attempt = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    r = json.loads(line)
    if r.get("task_id") == want and (attempt == "" or str(r.get("attempt")) == attempt):
        print(line.strip()); break' "$id" "$attempt")
		[ -n "$out" ] && { echo "$out"; return 0; }
		[ "$(date +%s)" -lt "$limit" ] || return 1
		sleep 0.2
	done
}

# jget JSON EXPR: evaluate a Python expression on parsed JSON "r".
jget() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

# group_gone PGID: no process is left in the process group.
group_gone() { ! pgrep -g "$1" >/dev/null; }

# no_procs_under DIR: no process runs with its working directory below DIR.
no_procs_under() {
	local p cwd
	for p in /proc/[0-9]*; do
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		case "$cwd" in "$1"/*) echo "# still running in $cwd: $(tr '\0' ' ' < "$p/cmdline")"; return 1 ;; esac
	done
	return 0
}

# contains TEXT PART: TEXT contains PART (no quoting pitfalls).
contains() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }
# fails_with RC OUTPUT PART: a command failed (RC != 0) saying PART.
fails_with() { [ "$1" -ne 0 ] && contains "$2" "$3"; }
# some_procs_under DIR: at least one process works below DIR.
some_procs_under() { ! no_procs_under "$1" >/dev/null; }
