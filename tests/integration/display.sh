#!/bin/bash
# tests/integration/display.sh: deploy/display.sh's X access control, on a
# real X server (Xvfb, --xvfb mode: the same cookie steps as for Xorg on a
# GPU node). A client without the cookie, or with another one, is refused;
# with it, one in another UTS namespace (a pod's host name) gets in; as
# root, the game uid/gid reads the cookie and another uid can neither read
# it nor connect. No Xvfb is left behind. TAP; skips without xvfb, xauth,
# x11-utils (scripts/setup.sh --test installs them).
. "$(dirname "$0")/lib.sh"

for c in Xvfb xauth xdpyinfo setsid timeout; do
	command -v "$c" >/dev/null || { echo "1..0 # SKIP no $c (Debian: xvfb, xauth, x11-utils)"; exit 0; }
done
DISPLAY_SH=$SRCDIR/deploy/display.sh
T=$(mktemp -d "${TMPDIR:-/tmp}/paia-display.XXXXXX")
STATES=$T
# The game uid of the pods must be able to walk down to the cookie.
chmod 0711 "$T"
AUTH_DIR=$T/auth
COOKIE=$AUTH_DIR/Xauthority
if [ "$(id -u)" = 0 ]; then GAME_UID=1000 GAME_GID=1000; else GAME_UID=$(id -u) GAME_GID=$(id -g); fi
XPID=

stop_xvfb() {
	local i
	[ -n "$XPID" ] || return 0
	kill -TERM "$XPID" 2>/dev/null
	for i in $(seq 1 300); do kill -0 "$XPID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$XPID" 2>/dev/null
	XPID=
}
trap 'stop_xvfb; cleanup' EXIT

# xclient [ENV...]: xdpyinfo on the test display, bounded, output in $T/out.
xclient() { env "$@" timeout 10 xdpyinfo -display ":$N" >"$T/out" 2>&1; }
refused() {
	! xclient "$@" && grep -q 'Authorization required\|No protocol specified\|Invalid MIT-MAGIC-COOKIE' "$T/out"
}
admitted() { xclient "$@" && grep -q "^name of display: *:$N\$" "$T/out"; }

# --- the Xorg set-up, dry run -------------------------------------------------------
out=$("$DISPLAY_SH" --dry-run --nvidia 2>/dev/null)
check "dry run: Xorg on :0 with the cookie (-auth /var/lib/paia-display/Xauthority)" \
	grep -q 'Xorg :0 .*-auth /var/lib/paia-display/Xauthority .*-nolisten tcp' <<<"$out"
lacks() { ! grep -q "$1" <<<"$2"; }
check "dry run: no xhost (the display is not opened to every local process)" lacks xhost "$out"
check "bad options are refused with a reason" sh -c "
	'$DISPLAY_SH' --xvfb --auth-dir rel 2>&1 | grep -q 'absolute path' &&
	'$DISPLAY_SH' --xvfb --game-gid 0 2>&1 | grep -q 'game-gid must be a number, not 0' &&
	'$DISPLAY_SH' --xvfb --display 0 2>&1 | grep -q 'must look like :0' &&
	'$DISPLAY_SH' --xvfb --dummy 2>&1 | grep -q 'one of --dummy, --nvidia, --xvfb'"
ln -s "$T" "$T/link"
check "an auth folder that is a symbolic link is refused" sh -c \
	"'$DISPLAY_SH' --xvfb --display :1 --auth-dir '$T/link' 2>&1 | grep -q 'is a symbolic link: refusing'"

# --- Xvfb with the cookie --------------------------------------------------------------
# A free display: no lock, no socket (another run may take it meanwhile:
# then the next one).
N=
start=$((100 + $$ % 800))
for i in $(seq 0 40); do
	n=$((start + i))
	[ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ] || continue
	if "$DISPLAY_SH" --xvfb --display ":$n" --auth-dir "$AUTH_DIR" --game-gid "$GAME_GID" \
		--virtual 640x480 >"$T/display.log" 2>&1; then
		N=$n
		break
	fi
	# Started but did not come up: stop that one before the next try.
	[ ! -f "$AUTH_DIR/Xvfb-$n.pid" ] || { XPID=$(cat "$AUTH_DIR/Xvfb-$n.pid"); stop_xvfb; }
	grep -q 'in use\|did not come up' "$T/display.log" || break
done
[ -n "$N" ] || { sed 's/^/# /' "$T/display.log"; bail "display.sh --xvfb did not start"; }
XPID=$(cat "$AUTH_DIR/Xvfb-$N.pid")
diag "Xvfb :$N, pid $XPID"
check "display.sh --xvfb: Xvfb runs with -auth and no TCP" \
	grep -q -- "-auth $COOKIE -nolisten tcp" <<<"$(tr '\0' ' ' <"/proc/$XPID/cmdline")"
check "the cookie folder is 0750, group $GAME_GID" test "$(stat -c %a/%g "$AUTH_DIR")" = "750/$GAME_GID"
check "the cookie file is 0640, group $GAME_GID" test "$(stat -c %a/%g "$COOKIE")" = "640/$GAME_GID"
check "one entry: family wild (any host name), display $N, MIT-MAGIC-COOKIE-1, 128 bits" sh -c \
	"xauth -f '$COOKIE' nlist | grep -Eqx 'ffff 0000  [0-9a-f]{4} [0-9a-f]+ 0012 4d49542d4d414749432d434f4f4b49452d31 0010 [0-9a-f]{32}' &&
	test \"\$(xauth -f '$COOKIE' list | wc -l)\" = 1 &&
	xauth -f '$COOKIE' list | grep -q '^#ffff##:$N '"

: >"$T/empty"
: >"$T/wrong"
check "a client without the cookie is refused" refused XAUTHORITY="$T/empty"
diag "$(head -n 1 "$T/out")"
check "... also with the caller's own default (HOME without .Xauthority)" refused -u XAUTHORITY HOME="$T"
printf 'ffff 0000  %04x %s 0012 4d49542d4d414749432d434f4f4b49452d31 0010 %s\n' "${#N}" \
	"$(printf '%s' "$N" | od -An -tx1 | tr -d ' \n')" "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" |
	xauth -q -f "$T/wrong" nmerge -
check "a client with another cookie is refused" refused XAUTHORITY="$T/wrong"
check "a client with the cookie gets in" admitted XAUTHORITY="$COOKIE"

before=$(xauth -f "$COOKIE" nlist)
check "display.sh again on the same display: refused, in use" sh -c \
	"'$DISPLAY_SH' --xvfb --display ':$N' --auth-dir '$AUTH_DIR' --game-gid '$GAME_GID' >'$T/again' 2>&1
	[ \$? = 1 ] && grep -q 'display :$N is in use' '$T/again'"
check "... and the cookie is the same" test "$(xauth -f "$COOKIE" nlist)" = "$before"

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && command -v unshare >/dev/null; then
	# A pod's host name is its own: the entry must match it too.
	check "with the cookie from another host name (UTS namespace, as in a pod)" sh -c \
		"XAUTHORITY='$COOKIE' timeout 10 unshare --uts sh -c 'hostname paia-pod-x && xdpyinfo -display :$N' >'$T/out' 2>&1 &&
		grep -q '^name of display: *:$N\$' '$T/out'"
	check "the game uid/gid ($GAME_UID:$GAME_GID) reads the cookie and gets in" sh -c \
		"setpriv --reuid $GAME_UID --regid $GAME_GID --clear-groups env XAUTHORITY='$COOKIE' timeout 10 xdpyinfo -display :$N >'$T/out' 2>&1 &&
		grep -q '^name of display: *:$N\$' '$T/out'"
	check "another uid (65534) cannot read the cookie" sh -c "! setpriv --reuid 65534 --regid 65534 --clear-groups cat '$COOKIE' >/dev/null 2>&1"
	check "... and is refused" sh -c \
		"! setpriv --reuid 65534 --regid 65534 --clear-groups env XAUTHORITY='$COOKIE' timeout 10 xdpyinfo -display :$N >'$T/out' 2>&1 &&
		grep -q 'Authorization required' '$T/out'"
else
	echo "# not root: the uid/gid and UTS namespace cases are skipped"
fi

stop_xvfb
check "Xvfb stopped: its socket is gone" wait_for 30 test ! -e "/tmp/.X11-unix/X$N"
tap_done
