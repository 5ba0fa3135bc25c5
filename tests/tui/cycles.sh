#!/bin/bash
# paia-console -n N: a bounded run (N frame ticks, then exit 0), the way
# it runs under the sanitizers (configure --enable-asan: every leak and
# error fails these checks through the exit status). Also: the terminal
# is given back on SIGINT, SIGTERM and SIGHUP (the output ends with the
# terminal's exit sequence) with exit status 0, and a gateway that is
# not there is no reason to fail.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

tui_scenario
export TERM=xterm-256color COLUMNS=80 LINES=24
RMCUP=$(tput -T xterm-256color rmcup)
# gave_back FILE: the terminal's exit sequence is among the last bytes written.
gave_back() { tail -c 64 "$1" | grep -qF -- "$RMCUP"; }

# run NAME ARGS...: the console, stdin /dev/null, output to NAME.out; its exit status.
run() {
	local name=$1
	shift
	"$CONSOLE" "$@" </dev/null >"$TMPD/$name.out" 2>"$TMPD/$name.err"
}
clean_exit() {
	local name=$1 rc=$2
	[ "$rc" -eq 0 ] && [ ! -s "$TMPD/$name.err" ] && return 0
	echo "# exit $rc"; sed 's/^/# stderr: /' "$TMPD/$name.err" | head -40
	return 1
}

run plain -d "$STATE" -n 30; rc=$?
check "-n 30: exits 0, nothing on stderr" clean_exit plain $rc
check "-n 30: it drew the gateway" grep -q golden "$TMPD/plain.out"
check "-n 30: and gave the terminal back" gave_back "$TMPD/plain.out"
run ascii -d "$STATE" -n 20 --ascii --mono; rc=$?
check "--ascii --mono -n 20: exits 0" clean_exit ascii $rc
check "--ascii: no byte beyond ASCII drawn" eval '! LC_ALL=C grep -q "[^[:print:][:cntrl:]]" "$TMPD/ascii.out"'
run away -S "$TMPD/nothing.sock" -n 20; rc=$?
check "no gateway at the socket: -n 20 still exits 0" clean_exit away $rc
check "and says why it cannot reach it" grep -q "No such file or directory" "$TMPD/away.out"
run readonly -d "$STATE" -n 10 --readonly --max-tasks 100; rc=$?
check "--readonly --max-tasks 100: exits 0" clean_exit readonly $rc

# A file of its own each: the last one's output (already drawn) would let
# the signal go before this console has its handlers, on a loaded machine.
for sig in INT TERM HUP; do
	"$CONSOLE" -d "$STATE" </dev/null >"$TMPD/sig$sig.out" 2>"$TMPD/sig$sig.err" &
	pid=$!
	wait_for 20 grep -q golden "$TMPD/sig$sig.out"
	kill -"$sig" "$pid"
	wait "$pid"
	rc=$?
	check "SIG$sig: exits 0" clean_exit sig$sig $rc
	check "SIG$sig: the terminal given back" gave_back "$TMPD/sig$sig.out"
done

# paiactl dial-stdio, the relay a remote console runs: requests in, answers out,
# the end of input passed on (the gateway closes, the relay ends), a missing
# socket named.
printf '{"cmd":"status"}\n{"cmd":"task","id":"demo-1"}\n' |
	"$PAIACTL" -d "$STATE" dial-stdio >"$TMPD/dial.out" 2>"$TMPD/dial.err"; rc=$?
check "dial-stdio: exits 0 once the gateway closes" clean_exit dial $rc
check "dial-stdio: both answers relayed, in order" eval \
	'[ "$(wc -l <"$TMPD/dial.out")" -eq 2 ] && head -1 "$TMPD/dial.out" | grep -q "\"instance\":\"golden\"" &&
	 tail -1 "$TMPD/dial.out" | grep -q "\"task_id\":\"demo-1\""'
"$PAIACTL" -S "$TMPD/nothing.sock" dial-stdio </dev/null >/dev/null 2>"$TMPD/dial2.err"; rc=$?
check "dial-stdio: no socket: exit 1, naming it" eval \
	'[ $rc -eq 1 ] && grep -q "cannot connect to $TMPD/nothing.sock" "$TMPD/dial2.err"'

# Usage errors: exit 2, naming what was wrong.
"$CONSOLE" -n 0 >/dev/null 2>"$TMPD/u1"; rc=$?
check "-n 0 is a usage error" eval '[ $rc -eq 2 ] && grep -q "a number of cycles" "$TMPD/u1"'
"$CONSOLE" --socket /x -n 1 >/dev/null 2>"$TMPD/u2"; rc=$?
check "--socket without --ssh is a usage error" eval '[ $rc -eq 2 ] && grep -q "go with --ssh" "$TMPD/u2"'
"$CONSOLE" --ssh host -d "$STATE" -n 1 >/dev/null 2>"$TMPD/u3"; rc=$?
check "--ssh with -d is a usage error" eval '[ $rc -eq 2 ] && grep -q "with --ssh use --socket" "$TMPD/u3"'
"$CONSOLE" --ssh root@host:99999 -n 1 >/dev/null 2>"$TMPD/u4"; rc=$?
check "--ssh with a bad port names it" eval '[ $rc -eq 1 ] && grep -q "the port must be 1 to 65535" "$TMPD/u4"'
TERM= "$CONSOLE" -d "$STATE" -n 1 >/dev/null 2>"$TMPD/u5"; rc=$?
check "no TERM: a clear error, exit 1" eval '[ $rc -eq 1 ] && grep -q "TERM is not set" "$TMPD/u5"'

[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
