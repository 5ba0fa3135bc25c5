#!/bin/bash
# paia-console --ssh: a real OpenSSH server on loopback (keys made here),
# the console's SSH session (common/ssh.c) running paiactl dial-stdio on
# the "remote" side. The remote Tasks screen equals the local one; the
# Videos view's preview is drawn from a frame asked over SSH, and `o`
# downloads the video through the socket (video_data) into a private
# file the player gets (same bytes, mode 600, removed once it exits); a key
# pinned to dial-stdio by command= in authorized_keys works; an unknown
# or changed host key is refused naming the host and the SHA256
# fingerprint; a key the server does not accept is refused.
#
# Needs /usr/sbin/sshd (Debian openssh-server) and root (sshd's
# privilege separation); it logs in as root. TUI_SSHD_PORT picks the
# port (default: a free one).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

SSHD=/usr/sbin/sshd
if [ ! -x "$SSHD" ] || ! command -v ssh-keygen >/dev/null; then
	echo "1..0 # SKIP no OpenSSH server (Debian packages openssh-server, openssh-client)"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP runs sshd on loopback with its own host key: needs root"
	exit 0
fi

tui_scenario

W=$TMPD/ssh
mkdir -p "$W"
chmod 700 "$W"
for k in hostkey otherhost userkey forcedkey wrongkey; do
	ssh-keygen -q -t ed25519 -N '' -C "paia-tui-$k" -f "$W/$k" || bail "ssh-keygen $k"
done
PORT=${TUI_SSHD_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
SSH_USER=$(id -un)
{
	cat "$W/userkey.pub"
	printf 'command="%s -d %s dial-stdio",no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding %s\n' \
		"$PAIACTL" "$STATE" "$(cat "$W/forcedkey.pub")"
} >"$W/authorized_keys"
printf '%s\n' "Port $PORT" 'ListenAddress 127.0.0.1' "HostKey $W/hostkey" "PidFile $W/sshd.pid" \
	"AuthorizedKeysFile $W/authorized_keys" 'PasswordAuthentication no' \
	'KbdInteractiveAuthentication no' 'UsePAM no' 'StrictModes no' \
	'PermitRootLogin prohibit-password' 'LogLevel VERBOSE' >"$W/sshd_config"
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$W/hostkey.pub")" >"$W/known_hosts"
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$W/otherhost.pub")" >"$W/changed_hosts"
: >"$W/empty_hosts"
FP=$(ssh-keygen -l -E sha256 -f "$W/hostkey.pub" | cut -d' ' -f2)
[ "$(id -u)" = 0 ] && mkdir -p /run/sshd
"$SSHD" -f "$W/sshd_config" -E "$W/sshd.log" || bail "sshd did not start: $(tail -3 "$W/sshd.log")"
ssh_stop() {
	[ -s "$W/sshd.pid" ] && kill "$(cat "$W/sshd.pid")" 2>/dev/null
	tui_cleanup
}
trap ssh_stop EXIT
wait_for 20 python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" ||
	bail "sshd does not accept connections on $PORT"

DEST=$SSH_USER@127.0.0.1:$PORT
remote() {
	local name=$1 cols=$2 rows=$3 key=$4 kh=$5
	shift 5
	CON_TARGET="--ssh $DEST -i $W/$key --known-hosts $W/$kh" con_start "$name" "$cols" "$rows" "$@"
}
# Remote screens are compared with their connection named as a local one's.
NORMALISE_EXTRA="s/ssh $SSH_USER@127\.0\.0\.1:$PORT/local/"
as_local() { screen "$1" | normalise; }
same_screen() {
	local limit=$(( $(date +%s) + 30 ))
	while :; do
		[ "$(as_local "$1")" = "$(screen "$2" | normalise)" ] && return 0
		[ "$(date +%s)" -lt "$limit" ] || break
		sleep 0.3
	done
	diff -u <(screen "$2" | normalise) <(as_local "$1") | sed 's/^/# /'
	return 1
}

# The Tasks screen, remote and local, side by side at 200x50 and 80x24.
con_start local 200 50
remote far 200 50 userkey known_hosts -- --paiactl "$PAIACTL" --socket "$STATE/control.sock"
keys local 2
keys far 2
check "remote: the header names the SSH connection" on_screen far "ssh $DEST"
check "remote 200x50: the Tasks screen equals the local one" same_screen far local
check "remote 200x50: and the golden of the local one" golden far tasks-200x50
keys far : "task demo-3" Enter
keys local : "task demo-3" Enter
check "remote 200x50: a task's view equals the local one" same_screen far local
keys far q
keys local q
con_start local80 80 24
remote far80 80 24 userkey known_hosts -- --paiactl "$PAIACTL" --socket "$STATE/control.sock"
keys local80 2
keys far80 2
on_screen far80 demo-3 >/dev/null
# At 80 columns the longer name makes the first header line drop segments.
body() { screen "$1" | tail -n +2 | normalise; }
check "remote 80x24: the first header line names the connection" on_screen far80 "ssh $DEST"
check "remote 80x24: the rest of the Tasks screen equals the local one" \
	wait_for 20 eval '[ "$(body far80)" = "$(body local80)" ]'
# An action over SSH: the answer comes back on the same channel.
keys far80 / demo-2 Enter r y
check "remote: requeue over SSH" on_screen far80 "requeued demo-2 as attempt 2"
check "paiactl sees it" wait_for 30 task_is demo-2 attempt 2
keys far80 q
keys local80 q

# The Videos view over SSH: the preview, and `o` downloading the video first. big-1's
# program leaves 700 kB of numbers as its video: three pieces of video_data, no piece
# like another, and no frame ffmpeg can make of it (random bytes were not that: now and
# then ffmpeg found a frame in them).
BIG=$(program big.sh 'seq 1 200000 | head -c 700000 >output/video.mp4
while read -r line; do echo STAY; done')
ctl submit --id big-1 --program "$BIG" --params '{"frames":3,"video":false}' >/dev/null ||
	bail "submit big-1"
result_of big-1 1 60 >/dev/null || bail "no result for big-1"
video_of() {
	ctl videos --json | python3 -c 'import json,sys
print(next(v["path"] for v in json.load(sys.stdin)["videos"] if v["task_id"] == sys.argv[1]))' "$1"
}
VIDEO=$(video_of big-1)
check "big-1's video is a video of 700000 bytes" test "$(stat -c %s "$VIDEO")" -eq 700000
SUM=$(sha256sum <"$VIDEO" | cut -d' ' -f1)
cat >"$TMPD/player.sh" <<'SH'
#!/bin/sh
for last; do :; done
{
	for a; do printf 'arg=%s\n' "$a"; done
	printf 'sum=%s\n' "$(sha256sum <"$last" | cut -d' ' -f1)"
	printf 'mode=%s\n' "$(stat -c %a "$last")"
} >"$PLAYER_OUT.tmp"
mv "$PLAYER_OUT.tmp" "$PLAYER_OUT"
SH
chmod 755 "$TMPD/player.sh"
mkdir -m 700 "$TMPD/run"
remote vids 100 40 userkey known_hosts PAIA_PLAYER=$TMPD/player.sh PLAYER_OUT=$TMPD/played \
	XDG_RUNTIME_DIR=$TMPD/run -- --paiactl "$PAIACTL" --socket "$STATE/control.sock"
keys vids 7
on_screen vids big-1 >/dev/null
keys vids Enter
check "remote: a video ffmpeg cannot read: the gateway's reason" \
	on_screen vids "no frame at 0 s: ffmpeg failed"
keys vids Escape Down Enter
check "remote: Enter previews demo-3's frame, asked over SSH" on_screen vids "attempt 1, "
check "... drawn (cells in colour)" wait_for 20 eval '[ "$(preview_colours vids)" -ge 4 ]'
keys vids Escape Up o
check "remote: o downloads the video and runs the player" wait_for 30 test -s "$TMPD/played"
got=$(sed -n 's/^arg=//p' "$TMPD/played" | tail -1)
check "... on a file of the runtime folder ($got)" eval 'case "$got" in "$TMPD/run/paia-video-big-1-"*.mp4) true;; *) false;; esac'
check "... holding the video's bytes" grep -qxF "sum=$SUM" "$TMPD/played"
check "... private (mode 600)" grep -qxF "mode=600" "$TMPD/played"
check "... removed once the player exited" wait_for 20 test ! -e "$got"
check "... and the console says it played it" on_screen vids "playing big-1 (downloaded, 700000 bytes)"
keys vids q

# A key pinned to "paiactl dial-stdio" by command= (no --paiactl, no --socket).
remote forced 100 30 forcedkey known_hosts
keys forced 2
check "a key forced to dial-stdio by authorized_keys works" on_screen forced demo-3
keys forced q

# Host keys, as OpenSSH checks them.
remote changed 200 30 userkey changed_hosts -- --paiactl "$PAIACTL"
check "a changed host key is refused, naming the host" on_screen changed "host key for [127.0.0.1]:$PORT has CHANGED"
check "and the fingerprint the server showed" on_screen changed "$FP"
check "and nothing of the gateway is shown" eval '! screen changed | grep -q demo-'
remote unknown 200 30 userkey empty_hosts -- --paiactl "$PAIACTL"
check "an unknown host key is refused, naming host and fingerprint" \
	on_screen unknown "host key for [127.0.0.1]:$PORT is unknown: ssh-ed25519 $FP"
check "known_hosts is left as it was (no accept-new)" test ! -s "$W/empty_hosts"
remote wrong 200 30 wrongkey known_hosts -- --paiactl "$PAIACTL"
check "a key the server does not accept is refused" on_screen wrong "key $W/wrongkey refused"
remote nopaiactl 200 30 userkey known_hosts -- --paiactl /nonexistent/paiactl
check "a missing paiactl on the far side: its words shown" \
	on_screen nopaiactl "'/nonexistent/paiactl dial-stdio' on the gateway's host exited 127"

[ "$tap_failed" -eq 0 ] || { gw_dump_log; tail -20 "$W/sshd.log" | sed 's/^/# sshd: /'; }
tap_done
