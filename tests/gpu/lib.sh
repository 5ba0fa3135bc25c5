# lib.sh: shared pieces of the GPU probe's tests (sourced after
# ../integration/lib.sh). The nodes are tests/env/sshd.sh's, which must be
# running with at least 3 nodes (its SSHD_DIR, SSHD_PORT and SSHD_NODES
# pass through); else the test skips. Each test leaves every node as it
# found it: normal mode, fixture rtx4080s, running.

SSHENV=${SSHD_ENV_SH:-$SRCDIR/tests/env/sshd.sh}
PROBE=${PROBE:-$BUILDDIR/tests/gpu/gpuprobe-test}

if ! bash "$SSHENV" status >/dev/null 2>&1; then
	echo "1..0 # SKIP the test sshd nodes are not running ($SSHENV start)"
	exit 0
fi
eval "$(bash "$SSHENV" env)"
if [ "$SSHD_NODES" -lt 3 ]; then
	echo "1..0 # SKIP 3 sshd nodes are needed (SSHD_NODES=$SSHD_NODES)"
	exit 0
fi
N1=n1=127.0.0.1:$SSHD_PORT
N2=n2=127.0.0.1:$((SSHD_PORT + 1))
N3=n3=127.0.0.1:$((SSHD_PORT + 2))
WORK=$(mktemp -d "${TMPDIR:-/tmp}/paia-gpu-test.XXXXXX")

env_sh() { bash "$SSHENV" "$@" >/dev/null; }

gpu_cleanup() {
	local n
	for n in 1 2 3; do
		bash "$SSHENV" resume "$n" >/dev/null 2>&1 || true
		bash "$SSHENV" mode "$n" normal >/dev/null 2>&1 || true
		bash "$SSHENV" fixture "$n" rtx4080s >/dev/null 2>&1 || true
	done
	[ -n "${BG_PID:-}" ] && kill "$BG_PID" 2>/dev/null
	rm -rf "$WORK"
	cleanup
}
trap gpu_cleanup EXIT

# drv ARGS...: gpuprobe-test; a non-zero exit (a crash, a sanitizer's
# report, the overall limit) is noted for drivers_clean.
drv() {
	local rc=0
	"$PROBE" "$@" || rc=$?
	[ "$rc" -eq 0 ] || echo "exit $rc: gpuprobe-test $*" >>"$WORK/driver-failures"
	return "$rc"
}
# drivers_clean: every gpuprobe-test run exited 0.
drivers_clean() {
	[ ! -s "$WORK/driver-failures" ] || { sed 's/^/# /' "$WORK/driver-failures"; return 1; }
}

# probe [OPTIONS] NODE...: the prober with the nodes' key, user and known_hosts.
probe() {
	drv probe -k "$SSHD_KNOWN_HOSTS" -i "$SSHD_KEY" -u "$SSHD_USER" -p "$SSHD_PROC" "$@"
}

# line_of OUTPUT NODE ROUND: the JSON line of that node's round.
line_of() {
	printf '%s\n' "$1" | python3 -c '
import json, sys
for l in sys.stdin:
    try: r = json.loads(l)
    except ValueError: continue
    if r.get("node") == sys.argv[1] and r.get("round") == int(sys.argv[2]):
        print(l.strip()); break' "$2" "$3"
}

# jok JSON EXPR: true when the Python expression on parsed JSON "r" is.
jok() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"; }

# summary OUTPUT KEY: a field of the final summary line.
summary() {
	printf '%s\n' "$1" | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if "summary" in r: print(r["summary"][sys.argv[1]])' "$2"
}

# fingerprint N: node N's host key fingerprint as ssh-keygen prints it.
fingerprint() { ssh-keygen -l -f "$SSHD_DIR/node$1/hostkey.pub" | cut -d' ' -f2; }

# lingering: processes the probe left on the nodes (a stand-in still hung).
lingering() { ps -u "$SSHD_USER" -o pid=,args= 2>/dev/null | grep -c 'sleep 3600' || true; }
