#!/bin/bash
# make install and make uninstall into a DESTDIR (no root, nothing of
# the machine touched), as an operator upgrading would meet them:
#  1. the sample configuration goes to $(sysconfdir)/paia/ as
#     paia-gateway.conf.sample and, the first time only, as
#     paia-gateway.conf, both 0640;
#  2. a second make install keeps an edited paia-gateway.conf (and one
#     that is a symbolic link), make uninstall keeps it too;
#  3. the systemd unit names the installed paths and passes
#     systemd-analyze verify; the man pages name $(sysconfdir)/paia/;
#     paiactl's bash completion is installed;
#  4. the gateway speaks the unit's Type=notify: READY=1 once started,
#     STOPPING=1 when it drains (a datagram socket of the test's).
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "1..0 # SKIP python3 is needed"; exit 0; }
T=$(mktemp -d "${TMPDIR:-/tmp}/paia-install.XXXXXX")
STATES="$T"
# make_in TARGET: make TARGET in the build tree into $T/root, quietly.
make_in() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL ${MAKE:-make} -C "$BUILDDIR" "$1" DESTDIR="$T/root" \
	    >"$T/$1.out" 2>&1 || { sed 's/^/# /' "$T/$1.out" | tail -20; return 1; }
}
var() { env -u MAKEFLAGS -u MFLAGS ${MAKE:-make} -s -C "$BUILDDIR" -f Makefile -f - print <<<"print: ; @echo \$($1)"; }
SYSCONF=$(var sysconfdir)
BINDIR=$(var bindir)
UNITDIR=$(env -u MAKEFLAGS ${MAKE:-make} -s -C "$BUILDDIR/deploy" -f Makefile -f - print <<<'print: ; @echo $(systemdsystemunitdir)')
COMPDIR=$(env -u MAKEFLAGS ${MAKE:-make} -s -C "$BUILDDIR/paiactl" -f Makefile -f - print <<<'print: ; @echo $(bashcompletiondir)')
MAN8=$(var mandir)/man8
ETC=$T/root$SYSCONF/paia
mode() { stat -c %a "$1"; }
quiet_ok() { "$@" >/dev/null 2>&1; }

# --- 1. the first install ------------------------------------------------------------
check "make install" make_in install
check "the sample: \$(sysconfdir)/paia/paia-gateway.conf.sample, 0640" \
	eval '[ "$(mode "$ETC/paia-gateway.conf.sample")" = 640 ] && cmp -s "$ETC/paia-gateway.conf.sample" "$SRCDIR/examples/paia-gateway.conf"'
check "the live configuration from it, the first time, 0640" \
	eval '[ "$(mode "$ETC/paia-gateway.conf")" = 640 ] && cmp -s "$ETC/paia-gateway.conf" "$SRCDIR/examples/paia-gateway.conf"'

# --- 2. an upgrade keeps the operator's file ---------------------------------------
printf '\n[gateway]\ninstance_id = edited-by-the-operator\n' >> "$ETC/paia-gateway.conf"
chmod 0600 "$ETC/paia-gateway.conf"
sum=$(md5sum < "$ETC/paia-gateway.conf")
echo "# an older sample" > "$ETC/paia-gateway.conf.sample"
check "make install again" make_in install
check "... keeps the edited paia-gateway.conf, its content and its mode" \
	eval '[ "$(md5sum < "$ETC/paia-gateway.conf")" = "$sum" ] && [ "$(mode "$ETC/paia-gateway.conf")" = 600 ]'
check "... says so" grep -q "keeping .*/paia/paia-gateway.conf" "$T/install.out"
check "... and refreshes the sample" cmp -s "$ETC/paia-gateway.conf.sample" "$SRCDIR/examples/paia-gateway.conf"
check "make uninstall" make_in uninstall
check "... keeps paia-gateway.conf" eval '[ "$(md5sum < "$ETC/paia-gateway.conf")" = "$sum" ]'
check "... removes the sample, the programs, the unit" \
	eval '[ ! -e "$ETC/paia-gateway.conf.sample" ] && [ ! -e "$T/root$BINDIR/paia-gateway" ] &&
	[ ! -e "$T/root$UNITDIR/paia-gateway.service" ]'
mv "$ETC/paia-gateway.conf" "$T/mine.conf"
ln -s "$T/mine.conf" "$ETC/paia-gateway.conf"
make_in install >/dev/null
check "a paia-gateway.conf that is a symbolic link is kept as a link" \
	eval '[ -L "$ETC/paia-gateway.conf" ] && [ "$(md5sum < "$T/mine.conf")" = "$sum" ]'

# --- 3. the unit, the pages, the completion ----------------------------------------
UNIT=$T/root$UNITDIR/paia-gateway.service
check "the unit is installed with the installed paths" \
	grep -qx "ExecStart=$BINDIR/paia-gateway -c $SYSCONF/paia/paia-gateway.conf" "$UNIT"
check "... Type=notify, KillMode=mixed, StateDirectory=paia, hardened" eval 'for k in Type=notify \
	KillMode=mixed StateDirectory=paia NoNewPrivileges=yes ProtectSystem=strict \
	RestartPreventExitStatus=2; do grep -qx "$k" "$UNIT" || exit 1; done'
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify wants the programs where the unit says: point it into DESTDIR.
	mkdir -p "$T/verify"
	sed "s|$BINDIR/|$T/root$BINDIR/|" "$UNIT" > "$T/verify/paia-gateway.service"
	out=$(cd "$T/verify" && systemd-analyze verify --man=no ./paia-gateway.service 2>&1)
	rc=$?
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/# /'
	check "systemd-analyze verify: no error, no warning" eval '[ "$rc" -eq 0 ] && [ -z "$out" ]'
else
	ok "systemd-analyze verify # SKIP systemd-analyze not installed"
fi
check "the man pages name \$(sysconfdir)/paia/" \
	eval 'grep -q "$SYSCONF/paia/paia-gateway.conf" "$T/root$MAN8/paia-gateway.8" &&
	{ [ "$SYSCONF" = /etc ] || ! grep -q "[^a-z]/etc/paia/" "$T/root$MAN8/paia-gateway.8"; }'
check "paiactl's bash completion is installed" test -s "$T/root$COMPDIR/paiactl"

# --- 4. Type=notify -------------------------------------------------------------------
cat > "$T/notify.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a") as out:
    for _ in range(2):
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        out.write(msg + "\n"); out.flush()
PY
python3 "$T/notify.py" "$T/notify.sock" "$T/notified" &
NPID=$!
wait_for 10 test -S "$T/notify.sock" || bail "no notify socket"
NOTIFY_SOCKET=$T/notify.sock "$GATEWAY" --embedded --state-dir "$T/state" 2>"$T/gw.log" &
GW_PID=$!
check "READY=1 once the gateway has started" wait_for 30 grep -qx "READY=1" "$T/notified"
check "... and then it answers" quiet_ok "$PAIACTL" -d "$T/state" status
kill -TERM "$GW_PID"
wait "$GW_PID"
check "STOPPING=1 when it drains, then exit 0" eval '[ $? -eq 0 ] && grep -qx "STOPPING=1" "$T/notified"'
wait "$NPID" 2>/dev/null
GW_PID=

tap_done
