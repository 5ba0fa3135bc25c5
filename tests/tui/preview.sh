#!/bin/bash
# The Videos view's preview and player against the embedded gateway's
# fixed scenario (tests/tui/lib.sh: demo-3 has a video the demo game
# made with ffmpeg): Enter asks the gateway for a frame and draws it
# with libchafa's symbols (in colour; ASCII only under --ascii and no
# colour under NO_COLOR), the header naming the task and the second;
# ] and [ step the second, a second past the end shows the gateway's
# reason; esc is back to the list. `o` runs $PAIA_PLAYER (a script
# here that writes its argv and the checksum of the file it got) on the
# task folder's file itself. The same over SSH, the file downloaded
# first: tests/tui/remote.sh.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

command -v ffmpeg >/dev/null || { echo "1..0 # SKIP no ffmpeg (Debian package ffmpeg)"; exit 0; }
tui_scenario

VIDEO=$(ctl videos --json | python3 -c 'import json,sys; v=json.load(sys.stdin)["videos"]; print(v[0]["path"] if v else "")')
check "the gateway names demo-3's local video ($VIDEO)" test -s "$VIDEO"
SUM=$(sha256sum <"$VIDEO" | cut -d' ' -f1)

# player.sh FILE...: what a player was given, and the bytes of the last argument.
tui_player() {
	cat >"$TMPD/player.sh" <<'SH'
#!/bin/sh
out=$PLAYER_OUT
for last; do :; done
{
	for a; do printf 'arg=%s\n' "$a"; done
	printf 'sum=%s\n' "$(sha256sum <"$last" | cut -d' ' -f1)"
	printf 'mode=%s\n' "$(stat -c %a "$last")"
	printf 'stdin=%s\n' "$(readlink /proc/self/fd/0)"
} >"$out.tmp"
mv "$out.tmp" "$out"
SH
	chmod 755 "$TMPD/player.sh"
}
tui_player

con_start p 100 40 PAIA_PLAYER=$TMPD/player.sh PLAYER_OUT=$TMPD/played
keys p 7
on_screen p demo-3 >/dev/null
keys p Enter
check "Enter: the preview names the task and the second" on_screen p "PREVIEW demo-3 at 0 s"
check "... and the frame arrives (attempt, size)" on_screen p "attempt 1, "
check "... drawn in colour: many colours in the preview's cells" \
	wait_for 20 eval '[ "$(preview_colours p)" -ge 4 ]'
diag "colours $(preview_colours p), cells inked $(preview_inked p)"
keys p ]
check "] asks the frame 5 s on" on_screen p "PREVIEW demo-3 at 5 s"
check "... past the video's end: the gateway's reason" on_screen p "no frame at 5 s: no frame there"
keys p [
check "[ goes back to 0 s" on_screen p "PREVIEW demo-3 at 0 s"
check "... and its frame again" on_screen p "attempt 1, "
rm -f "$TMPD/played"
keys p o
check "o: the player ran" wait_for 20 test -s "$TMPD/played"
check "... on the task folder's video itself" grep -qxF "arg=$VIDEO" "$TMPD/played"
check "... which holds the video's bytes" grep -qxF "sum=$SUM" "$TMPD/played"
check "... with stdin on /dev/null (detached)" grep -qxF "stdin=/dev/null" "$TMPD/played"
check "... and the console says so" on_screen p "playing $VIDEO"
keys p Escape
check "esc: back to the list" on_screen p "REPORTED"
keys p q
check "q quits, exit status 0" on_screen p "console-exited=0" 10

# --ascii and NO_COLOR: ASCII symbols, no colour, the picture still drawn.
con_start a 80 30 NO_COLOR=1 -- --ascii
keys a 7
on_screen a demo-3 >/dev/null
keys a Enter
check "--ascii NO_COLOR: the frame arrives" on_screen a "attempt 1, "
check "... drawn in ASCII symbols (not blank)" wait_for 20 eval '[ "$(preview_inked a)" -ge 100 ]'
check "... only ASCII" eval '! preview_rows a | LC_ALL=C grep -q "[^ -~]"'
check "... without colours" eval '[ "$(preview_colours a)" -eq 0 ]'
keys a q

# No PAIA_PLAYER: said, nothing run.
con_start n 100 30
keys n 7
on_screen n demo-3 >/dev/null
keys n o
check "o without PAIA_PLAYER: says so" on_screen n "PAIA_PLAYER is not set"
keys n q

[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
