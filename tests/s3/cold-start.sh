#!/bin/bash
# tests/env/s3.sh start on a machine without the build cache: the
# readiness deadline counts from when versitygw starts, after the build
# (it once counted from before it, so a build longer than
# S3_START_TIMEOUT left no time at all and a healthy server was killed).
# A stand-in `go` "builds" for longer than the timeout (it sleeps, then
# copies the real binary that s3.sh install made); start must still
# succeed, on a port and folders of its own, and say how long the build
# and the readiness took.
. "$(dirname "$0")/../integration/lib.sh"

S3ENV=$SRCDIR/tests/env/s3.sh
VER=${VERSITYGW_VERSION:-v1.8.0}
REAL=${PAIA_TESTENV_CACHE:-${HOME:-/tmp}/.cache/paia-testenv}/versitygw-$VER/bin/versitygw
[ -x "$REAL" ] || bail "no versitygw at $REAL (tests/env/s3.sh install)"
W=$(mktemp -d "${TMPDIR:-/tmp}/paia-s3-cold.XXXXXX")
STATES=$W
TIMEOUT=10 BUILD_S=11
mkdir -p "$W/bin"
cat > "$W/bin/go" <<EOF
#!/bin/sh
# A stand-in go for tests/s3/cold-start.sh: a slow build of versitygw.
case \$1 in
env) echo go1.26.0 ;;
install) sleep $BUILD_S && cp "$REAL" "\$GOBIN/versitygw" ;;
*) echo "stand-in go: \$*" >&2; exit 2 ;;
esac
EOF
chmod +x "$W/bin/go"
cold() {
	env PATH="$W/bin:$PATH" PAIA_TESTENV_CACHE="$W/cache" S3_DIR="$W/s3" S3_PORT="$PORT" \
		S3_START_TIMEOUT=$TIMEOUT "$S3ENV" "$@"
}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
trap 'cold stop >/dev/null 2>&1; cleanup' EXIT

out=$(cold start 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
check "start succeeds after a ${BUILD_S} s build with S3_START_TIMEOUT=$TIMEOUT" test "$rc" -eq 0
check "it says how long the build took" grep -qE "installed versitygw $VER: .*, [0-9]+ s$" <<<"$out"
times=$(sed -n 's/.*ready \([0-9]*\) s after the server started, \([0-9]*\) s in all.*/\1 \2/p' <<<"$out")
# times_ok READY ALL: ready within the timeout, the build counted in all.
times_ok() { [ "$#" -eq 2 ] && [ "$1" -le "$TIMEOUT" ] && [ "$2" -ge "$BUILD_S" ]; }
check "and how long readiness took, apart from the build (${times:-no times})" times_ok $times
check "the server answers" eval 'cold status >/dev/null'
check "a second start finds it running" grep -q 'already running' <<<"$(cold start 2>&1)"
tap_done
