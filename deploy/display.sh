#!/bin/bash
# display.sh: set up the X display that game pods render to, on one GPU
# node (run it as root on each node that runs games).
#
# Unity games need an X server even when nobody looks: the game pod gets
# DISPLAY=:0 and the node's /tmp/.X11-unix mounted (deploy/game-pod.json),
# and renders on the node's GPU through the NVIDIA driver's GLX/Vulkan.
# This script:
#   1. installs Xorg (xserver-xorg-core, the dummy video driver as a
#      fallback, xauth);
#   2. writes an xorg.conf for a screen with no monitor attached: with an
#      NVIDIA GPU (nvidia-smi works) through
#        nvidia-xconfig -a --allow-empty-initial-configuration --virtual=WxH
#      otherwise (or with --dummy) for the dummy driver (software only:
#      for trying the pipeline on a node without a GPU);
#   3. makes a new auth cookie (MIT-MAGIC-COOKIE-1, 128 random bits) in
#      <auth-dir>/Xauthority: a directory and file of root's, readable by
#      the group --game-gid only (the game pods' runAsGroup), which the
#      game pods mount read-only (a hostPath) and name in XAUTHORITY.
#      The entry's family is "wild", so it matches whatever host name
#      the client has (a pod's is its own, not the node's);
#   4. runs Xorg on the display with that cookie (-auth), socket only
#      (-nolisten tcp), as the systemd service paia-display (or in the
#      background when there is no systemd), and checks that the socket
#      /tmp/.X11-unix/X<n> appears.
# No client is let in without the cookie: no "xhost +local:", so a
# process on the node that is neither root, nor in the game group, nor
# in a game pod, cannot open the display (docs/operations.md, "The X
# display"). Running the script again makes a new cookie and restarts
# the server (running games lose their display).
#
# usage: deploy/display.sh [--dry-run] [--dummy|--nvidia|--xvfb]
#                          [--display :0] [--virtual 1920x1080]
#                          [--auth-dir /var/lib/paia-display] [--game-gid 1000]
#   --dry-run   print what would be done, change nothing (no root needed)
#   --dummy     use the dummy driver even when an NVIDIA GPU is present
#   --nvidia    use nvidia-xconfig without looking for a GPU (with
#               --dry-run: show the NVIDIA steps on a machine without one)
#   --xvfb      run Xvfb (package xvfb) instead of Xorg, in the background,
#               with the same cookie: no packages installed, no xorg.conf,
#               no service, no root needed (the caller must own --auth-dir
#               or may create it, and be in --game-gid); Xvfb's pid and
#               log go to <auth-dir>/Xvfb-<n>.pid and .log. For tests
#               (tests/integration/display.sh) and for trying the cookie
#               on a machine without a GPU; software rendering only
#   --display   the X display (default :0; the pods' DISPLAY must match)
#   --virtual   the virtual screen size (default 1920x1080)
#   --auth-dir  where the cookie goes (default /var/lib/paia-display; the
#               pods' hostPath volume x11-auth must match)
#   --game-gid  the group that may read the cookie (default 1000, the
#               game pods' runAsGroup)
#
# The NVIDIA driver, nvidia-xconfig and the NVIDIA container toolkit
# must already be installed (docs/operations.md, "Kubernetes").
set -eu

DRY_RUN=0
MODE=
DISPLAY_NUM=:0
VIRTUAL=1920x1080
AUTH_DIR=/var/lib/paia-display
GAME_GID=1000
while [ $# -gt 0 ]; do
	case $1 in
	--dry-run) DRY_RUN=1 ;;
	--dummy | --nvidia | --xvfb)
		[ -z "$MODE" ] || [ "$MODE" = "${1#--}" ] ||
			{ echo "display.sh: one of --dummy, --nvidia, --xvfb" >&2; exit 2; }
		MODE=${1#--} ;;
	--display) DISPLAY_NUM=${2:?--display needs a value}; shift ;;
	--virtual) VIRTUAL=${2:?--virtual needs a value}; shift ;;
	--auth-dir) AUTH_DIR=${2:?--auth-dir needs a value}; shift ;;
	--game-gid) GAME_GID=${2:?--game-gid needs a value}; shift ;;
	-h | --help) sed -n '/^set -eu/q; 2,$p' "$0"; exit 0 ;;
	*) echo "display.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
case $DISPLAY_NUM in :[0-9] | :[1-9][0-9] | :[1-9][0-9][0-9]) ;;
*) echo "display.sh: --display must look like :0 (0 to 999)" >&2; exit 2 ;; esac
case $VIRTUAL in [1-9]*x[1-9]*) ;; *) echo "display.sh: --virtual must look like 1920x1080" >&2; exit 2 ;; esac
case ${VIRTUAL%x*}${VIRTUAL#*x} in *[!0-9]*) echo "display.sh: --virtual must look like 1920x1080" >&2; exit 2 ;; esac
case $AUTH_DIR in /*) ;; *) echo "display.sh: --auth-dir must be an absolute path" >&2; exit 2 ;; esac
case $AUTH_DIR in *[!A-Za-z0-9/._-]* | */../* | */.. | */./* | */.) echo "display.sh: --auth-dir: a plain absolute path, please" >&2; exit 2 ;; esac
case $GAME_GID in '' | *[!0-9]* | 0) echo "display.sh: --game-gid must be a number, not 0" >&2; exit 2 ;; esac
N=${DISPLAY_NUM#:}
SOCKET=/tmp/.X11-unix/X$N
AUTH=$AUTH_DIR/Xauthority
UNIT=/etc/systemd/system/paia-display.service

say() { echo "display.sh: $*"; }
die() { echo "display.sh: $*" >&2; exit 1; }
# run CMD...: do it, or print it with --dry-run.
run() {
	if [ "$DRY_RUN" = 1 ]; then echo "+ $*"; else "$@"; fi
}
# write FILE: stdin into FILE, or printed with --dry-run.
write() {
	if [ "$DRY_RUN" = 1 ]; then
		echo "+ cat > $1 <<EOF"
		cat
		echo "EOF"
	else
		cat >"$1"
	fi
}

# hexstr STRING: STRING's bytes in hex, as xauth's nlist writes them.
hexstr() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# auth_dir_check: the cookie's folder, when there, is a real one of ours
# (not a link someone planted, not someone else's).
auth_dir_check() {
	[ "$DRY_RUN" = 0 ] || return 0
	[ ! -L "$AUTH_DIR" ] || die "$AUTH_DIR is a symbolic link: refusing to write the cookie there"
	[ ! -e "$AUTH_DIR" ] || { [ -d "$AUTH_DIR" ] && [ "$(stat -c %u "$AUTH_DIR")" = "$(id -u)" ]; } ||
		die "$AUTH_DIR is not a folder of uid $(id -u): refusing to write the cookie there"
}

# new_cookie: a fresh cookie for display N in $AUTH (see 3. above). The
# folder must be a real one of ours (not a link someone planted); the
# file is made beside the old one and renamed over it, so a reader sees
# the old cookie or the new one, never half a file. The cookie reaches
# xauth on stdin, never on a command line (ps would show it).
new_cookie() {
	local tmp name=MIT-MAGIC-COOKIE-1
	if [ "$DRY_RUN" = 1 ]; then
		echo "+ mkdir -p -m 0750 $AUTH_DIR; chgrp $GAME_GID $AUTH_DIR"
		echo "+ (128 random bits as a $name, family wild, display $N) | xauth -f $AUTH nmerge -"
		echo "+ chgrp $GAME_GID $AUTH; chmod 0640 $AUTH"
		return 0
	fi
	command -v xauth >/dev/null || die "xauth is missing (Debian: apt-get install xauth)"
	auth_dir_check
	[ -d "$AUTH_DIR" ] || mkdir -p -m 0750 "$AUTH_DIR" || die "cannot create $AUTH_DIR"
	auth_dir_check
	chgrp "$GAME_GID" "$AUTH_DIR" && chmod 0750 "$AUTH_DIR" ||
		die "cannot give $AUTH_DIR to group $GAME_GID (mode 0750)"
	tmp=$(mktemp "$AUTH_DIR/.Xauthority.XXXXXX") || die "cannot create a file in $AUTH_DIR"
	if ! printf 'ffff 0000  %04x %s %04x %s 0010 %s\n' "${#N}" "$(hexstr "$N")" "${#name}" \
		"$(hexstr "$name")" "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" |
		xauth -q -f "$tmp" nmerge - ||
		! chgrp "$GAME_GID" "$tmp" || ! chmod 0640 "$tmp" || ! mv -f "$tmp" "$AUTH"; then
		rm -f "$tmp" "$tmp-c" "$tmp-l" "$tmp-n"
		die "cannot write the cookie $AUTH"
	fi
	say "new cookie in $AUTH (mode 0640, group $GAME_GID)"
}

# wait_socket [PID]: until the display's socket is there (and PID lives).
wait_socket() {
	local i
	for i in $(seq 1 300); do
		[ -S "$SOCKET" ] && return 0
		[ -z "${1:-}" ] || kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

[ "$DRY_RUN" = 1 ] || [ "$MODE" = xvfb ] || [ "$(id -u)" = 0 ] ||
	{ echo "display.sh: run as root (or --dry-run)" >&2; exit 1; }

# Xvfb: the cookie and the server, nothing else.
if [ "$MODE" = xvfb ]; then
	command -v Xvfb >/dev/null || [ "$DRY_RUN" = 1 ] || die "Xvfb is missing (Debian: apt-get install xvfb)"
	auth_dir_check
	[ ! -e "/tmp/.X$N-lock" ] || [ "$DRY_RUN" = 1 ] || die "display $DISPLAY_NUM is in use (/tmp/.X$N-lock)"
	new_cookie
	XVFB="Xvfb $DISPLAY_NUM -auth $AUTH -nolisten tcp -noreset -screen 0 ${VIRTUAL}x24"
	if [ "$DRY_RUN" = 1 ]; then
		echo "+ $XVFB &"
		say "dry run: nothing changed"
		exit 0
	fi
	setsid $XVFB >"$AUTH_DIR/Xvfb-$N.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$AUTH_DIR/Xvfb-$N.pid"
	wait_socket "$pid" || die "Xvfb $DISPLAY_NUM did not come up (see $AUTH_DIR/Xvfb-$N.log)"
	say "Xvfb $DISPLAY_NUM is up (pid $pid, $SOCKET, cookie $AUTH)"
	exit 0
fi

nvidia=0
[ "$MODE" != nvidia ] || nvidia=1
if [ "$MODE" != dummy ] && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
	nvidia=1
fi
if [ "$nvidia" = 1 ] && ! command -v nvidia-xconfig >/dev/null 2>&1; then
	echo "display.sh: nvidia-xconfig is missing (Debian: apt-get install nvidia-xconfig," \
		"or the one of your driver's installer)" >&2
	[ "$DRY_RUN" = 1 ] || exit 1
fi

auth_dir_check

# 1. Xorg.
pkgs="xserver-xorg-core xserver-xorg-video-dummy xauth"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ] || [ "$DRY_RUN" = 1 ]; then
	run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs
fi

# 2. The screen.
if [ "$nvidia" = 1 ]; then
	CONF=/etc/X11/xorg.conf
	say "NVIDIA: $CONF from nvidia-xconfig, virtual screen $VIRTUAL"
	run nvidia-xconfig -a --allow-empty-initial-configuration --virtual="$VIRTUAL" \
		--output-xconfig="$CONF"
else
	CONF=/etc/X11/xorg-paia-dummy.conf
	say "no NVIDIA GPU in use: the dummy driver (no GPU rendering), $CONF"
	write "$CONF" <<EOF
# written by deploy/display.sh: a screen without a monitor or a GPU
Section "Device"
    Identifier "dummy"
    Driver "dummy"
    VideoRam 256000
EndSection
Section "Monitor"
    Identifier "monitor"
    HorizSync 5.0 - 1000.0
    VertRefresh 5.0 - 200.0
EndSection
Section "Screen"
    Identifier "screen"
    Device "dummy"
    Monitor "monitor"
    DefaultDepth 24
    SubSection "Display"
        Depth 24
        Virtual ${VIRTUAL%x*} ${VIRTUAL#*x}
    EndSubSection
EndSection
EOF
fi

# 3. The cookie.
new_cookie

# 4. Xorg on the display, for good. Only the unix socket (no TCP), and
# only clients that show the cookie.
XORG="/usr/lib/xorg/Xorg $DISPLAY_NUM -config $CONF -auth $AUTH -noreset -nolisten tcp +extension GLX"
if [ -d /run/systemd/system ]; then
	write "$UNIT" <<EOF
# written by deploy/display.sh: the X display game pods render to
[Unit]
Description=PAIA X display $DISPLAY_NUM for game pods
After=systemd-user-sessions.service nvidia-persistenced.service

[Service]
ExecStart=$XORG
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
EOF
	run systemctl daemon-reload
	run systemctl enable paia-display.service
	run systemctl restart paia-display.service
else
	say "no systemd: starting Xorg in the background (it will not survive a reboot)"
	run sh -c "nohup $XORG >/var/log/paia-display.log 2>&1 &"
fi

if [ "$DRY_RUN" = 1 ]; then
	say "dry run: nothing changed"
	exit 0
fi
wait_socket || die "no X socket $SOCKET after 30 s (see journalctl -u paia-display or /var/log/Xorg.$N.log)"
say "X display $DISPLAY_NUM is up ($SOCKET, cookie $AUTH)"
