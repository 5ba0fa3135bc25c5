#!/bin/bash
# display.sh: set up the X display that game pods render to, on one GPU
# node (run it as root on each node that runs games).
#
# Unity games need an X server even when nobody looks: the game pod gets
# DISPLAY=:0 and the node's /tmp/.X11-unix mounted (deploy/game-pod.json),
# and renders on the node's GPU through the NVIDIA driver's GLX/Vulkan.
# This script:
#   1. installs Xorg (xserver-xorg-core, the dummy video driver as a
#      fallback, xhost);
#   2. writes an xorg.conf for a screen with no monitor attached: with an
#      NVIDIA GPU (nvidia-smi works) through
#        nvidia-xconfig -a --allow-empty-initial-configuration --virtual=WxH
#      otherwise (or with --dummy) for the dummy driver (software only:
#      for trying the pipeline on a node without a GPU);
#   3. runs Xorg on the display as the systemd service paia-display
#      (or in the background when there is no systemd), lets local
#      clients (the pods, through the socket) connect, and checks that
#      the socket /tmp/.X11-unix/X<n> appears.
#
# usage: deploy/display.sh [--dry-run] [--dummy|--nvidia] [--display :0]
#                          [--virtual 1920x1080]
#   --dry-run   print what would be done, change nothing (no root needed)
#   --dummy     use the dummy driver even when an NVIDIA GPU is present
#   --nvidia    use nvidia-xconfig without looking for a GPU (with
#               --dry-run: show the NVIDIA steps on a machine without one)
#   --display   the X display (default :0; the pods' DISPLAY must match)
#   --virtual   the virtual screen size (default 1920x1080)
#
# The NVIDIA driver, nvidia-xconfig and the NVIDIA container toolkit
# must already be installed (docs/operations.md, "Kubernetes").
set -eu

DRY_RUN=0
DUMMY=0
NVIDIA=0
DISPLAY_NUM=:0
VIRTUAL=1920x1080
while [ $# -gt 0 ]; do
	case $1 in
	--dry-run) DRY_RUN=1 ;;
	--dummy) DUMMY=1 ;;
	--nvidia) NVIDIA=1 ;;
	--display) DISPLAY_NUM=${2:?--display needs a value}; shift ;;
	--virtual) VIRTUAL=${2:?--virtual needs a value}; shift ;;
	-h | --help) sed -n '/^set -eu/q; 2,$p' "$0"; exit 0 ;;
	*) echo "display.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
case $DISPLAY_NUM in :[0-9]*) ;; *) echo "display.sh: --display must look like :0" >&2; exit 2 ;; esac
case $VIRTUAL in [0-9]*x[0-9]*) ;; *) echo "display.sh: --virtual must look like 1920x1080" >&2; exit 2 ;; esac
N=${DISPLAY_NUM#:}
SOCKET=/tmp/.X11-unix/X$N
UNIT=/etc/systemd/system/paia-display.service

say() { echo "display.sh: $*"; }
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

[ "$DRY_RUN" = 1 ] || [ "$(id -u)" = 0 ] || { echo "display.sh: run as root (or --dry-run)" >&2; exit 1; }

nvidia=$NVIDIA
[ "$DUMMY" = 0 ] || [ "$NVIDIA" = 0 ] || { echo "display.sh: --dummy or --nvidia, not both" >&2; exit 2; }
if [ "$DUMMY" = 0 ] && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
	nvidia=1
fi
if [ "$nvidia" = 1 ] && ! command -v nvidia-xconfig >/dev/null 2>&1; then
	echo "display.sh: nvidia-xconfig is missing (Debian: apt-get install nvidia-xconfig," \
		"or the one of your driver's installer)" >&2
	[ "$DRY_RUN" = 1 ] || exit 1
fi

# 1. Xorg.
pkgs="xserver-xorg-core xserver-xorg-video-dummy x11-xserver-utils"
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

# 3. Xorg on the display, for good. Only the unix socket (no TCP); any
# local client may connect, since the pods come through that socket with
# their own uid (the node runs games only).
XORG="/usr/lib/xorg/Xorg $DISPLAY_NUM -config $CONF -noreset -nolisten tcp +extension GLX"
ALLOW="for i in \$(seq 1 100); do [ -S $SOCKET ] && break; sleep 0.1; done; DISPLAY=$DISPLAY_NUM xhost +local:"
if [ -d /run/systemd/system ]; then
	write "$UNIT" <<EOF
# written by deploy/display.sh: the X display game pods render to
[Unit]
Description=PAIA X display $DISPLAY_NUM for game pods
After=systemd-user-sessions.service nvidia-persistenced.service

[Service]
ExecStart=$XORG
ExecStartPost=/bin/sh -c '$ALLOW'
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
	run sh -c "$ALLOW"
fi

if [ "$DRY_RUN" = 1 ]; then
	say "dry run: nothing changed"
	exit 0
fi
for i in $(seq 1 100); do
	[ -S "$SOCKET" ] && break
	sleep 0.1
done
[ -S "$SOCKET" ] || { echo "display.sh: no X socket $SOCKET after 10 s (see journalctl -u paia-display or /var/log/Xorg.$N.log)" >&2; exit 1; }
say "X display $DISPLAY_NUM is up ($SOCKET)"
