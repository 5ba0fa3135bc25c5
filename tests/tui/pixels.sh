#!/bin/bash
# The Videos view's preview as a terminal image: paia-console on a
# pseudo-terminal of its own (python3's pty, not tmux: tmux would make
# it draw symbols) whose size has pixels (TIOCSWINSZ), in an
# environment chafa's terminal database takes for a sixel terminal
# (TERM_PROGRAM=WezTerm). Enter on demo-3 writes chafa's sixel image
# (DCS ... ST) after the cursor is saved and placed; esc takes it away
# (the screen drawn again). The same with $TMUX set, or
# PAIA_CONSOLE_GRAPHICS=symbols, draws symbols and no image.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

"$BUILDDIR/tests/unit/test-preview" >/dev/null 2>&1 ||
	{ echo "1..0 # SKIP the preview's unit test fails or is not built"; exit 0; }
command -v ffmpeg >/dev/null || { echo "1..0 # SKIP no ffmpeg (Debian package ffmpeg)"; exit 0; }
tui_scenario

cat >"$TMPD/console-pty.py" <<'PY'
# console-pty.py CONSOLE STATE OUT [--image] [NAME=VALUE...]: the console on a pty of 100x40 cells of 8x16
# pixels; keys 7, Enter, then esc, then q; what it wrote goes to OUT, in three parts.
import fcntl, os, pty, select, struct, sys, termios, time
console, state, out = sys.argv[1:4]
env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
       "TERM": "xterm-256color", "PAIA_CONSOLE_TEST_TIMES": "1"}
# --image: an image is expected after each frame of the preview (its end: ST, then DECRC).
image = sys.argv[4:5] == ["--image"]
for a in sys.argv[4 + image:]:
    k, v = a.split("=", 1)
    env[k] = v
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 800, 640))
    os.execve(console, [console, "-d", state], env)
buf = bytearray()
def until(what, start, secs=30):
    end = time.monotonic() + secs
    while what not in buf[start:]:
        left = end - time.monotonic()
        if left <= 0:
            open(out + ".all", "wb").write(buf)
            sys.exit("no %r in %d s; the screen's last bytes: %r" % (what, secs,
                bytes(buf[-400:])))
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                d = os.read(fd, 65536)
            except OSError:
                d = b""
            if not d:
                sys.exit("the console went away before %r" % what)
            buf.extend(d)
until(b"1 overview", 0)
os.write(fd, b"7")
until(b"demo-3", 0)
mark1 = len(buf)
os.write(fd, b"\r")
# (ncurses writes a line from its first changed cell: "asking the gateway..." before
# "attempt 1, 160x128 pixels, ..." leaves the a; " pixels, " is written whole.)
until(b" pixels, ", mark1)
# The help next: everything the preview's frame wrote comes before it.
os.write(fd, b"?")
until(b"preview a frame", mark1)
help_at = buf.index(b"preview a frame", mark1)
os.write(fd, b"\x1b")
until(b" pixels, ", help_at)
if image:
    until(b"\x1b\\\x1b8", help_at)
mark2 = len(buf)
os.write(fd, b"\x1b")
until(b"REPORTED", mark2)
os.write(fd, b"q")
# Everything it wrote, to its exit (what esc wrote may still be on its way).
while True:
    try:
        d = os.read(fd, 65536)
    except OSError:
        break
    if not d:
        break
    buf.extend(d)
_, status = os.waitpid(pid, 0)
for name, part in (("enter", buf[mark1:help_at]), ("esc", buf[mark2:])):
    open(out + "." + name, "wb").write(part)
print(os.waitstatus_to_exitcode(status))
PY

run_pty() { python3 "$TMPD/console-pty.py" "$CONSOLE" "$STATE" "$TMPD/$1" "${@:2}"; }

rc=$(run_pty six --image TERM_PROGRAM=WezTerm)
check "a sixel terminal: the console ran and quit (exit $rc)" test "$rc" = 0
check "Enter: a sixel image (DCS q ... ST)" grep -qaP '\x1bP[0-9;]*q' "$TMPD/six.enter"
check "... written with the cursor saved and placed in the preview (row 6)" \
	grep -qaP '\x1b7\x1b\[6;[0-9]+H\x1bP' "$TMPD/six.enter"
check "... and put back after it" grep -qaP '\x1b\\\x1b8' "$TMPD/six.enter"
check "... no symbols drawn under it" eval 'test -s "$TMPD/six.enter" && ! grep -qa "▀\|▄\|▂\|▆" "$TMPD/six.enter"'
check "esc: the screen drawn again over it (cleared)" grep -qaP '\x1b\[H\x1b\[2J|\x1b\[2J' "$TMPD/six.esc"
grep -qaP '\x1b\[H\x1b\[2J|\x1b\[2J' "$TMPD/six.esc" ||
	diag "after esc: $(od -c "$TMPD/six.esc" | head -20 | tr '\n' '|')"
check "... no image again" eval 'test -s "$TMPD/six.esc" && ! grep -qaP "\x1bP[0-9;]*q" "$TMPD/six.esc"'

rc=$(run_pty tmux TERM_PROGRAM=WezTerm TMUX=/tmp/none,1,0)
check "inside tmux (\$TMUX): no image" eval 'test -s "$TMPD/tmux.enter" && ! grep -qaP "\x1bP[0-9;]*q" "$TMPD/tmux.enter"'
check "... symbols instead" grep -qa "▀\|▄\|▂\|▆\|▔" "$TMPD/tmux.enter"
rc=$(run_pty off TERM_PROGRAM=WezTerm PAIA_CONSOLE_GRAPHICS=symbols)
check "PAIA_CONSOLE_GRAPHICS=symbols: no image" eval 'test -s "$TMPD/off.enter" && ! grep -qaP "\x1bP[0-9;]*q" "$TMPD/off.enter"'
check "... symbols instead" grep -qa "▀\|▄\|▂\|▆\|▔" "$TMPD/off.enter"

[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
