# lib.sh: shared pieces of the console's screen tests (sourced after
# ../integration/lib.sh). The console runs in a tmux server of the test's
# own (-L, no config file), keys go in with send-keys and screens come
# out with capture-pane, as a person would see them.
#
# Golden screens: tests/tui/golden/NAME.txt. A screen is compared after
# normalise (the state folder's random part, counts that depend on how
# the gateway batched its transactions); the console draws every time
# and duration as "~" (PAIA_CONSOLE_TEST_TIMES=1), so what is left is
# what the gateway's fixed scenario makes. UPDATE_GOLDEN=1 writes the
# goldens from what the screens show instead of comparing.

CONSOLE=${CONSOLE:-$BUILDDIR/tui/paia-console}
GOLDEN=${GOLDEN:-$SRCDIR/tests/tui/golden}
TMUX_SOCK=paia-tui-$$
export LANG=C.UTF-8 LC_ALL=C.UTF-8

if ! command -v tmux >/dev/null 2>&1; then
	echo "1..0 # SKIP tmux is not installed (Debian package tmux)"
	exit 0
fi
if [ ! -x "$CONSOLE" ]; then
	echo "1..0 # SKIP paia-console is not built (configure --disable-console?)"
	exit 0
fi

tm() { tmux -L "$TMUX_SOCK" -f /dev/null "$@"; }

tui_cleanup() {
	tm kill-server >/dev/null 2>&1
	cleanup
}
trap tui_cleanup EXIT

# tui_state: a state folder whose path has the same length on every
# machine (the screens show paths; a longer one would be cut elsewhere).
tui_state() {
	STATE=$(mktemp -d /tmp/paia-tui.XXXXXX)
	STATES="${STATES:-} $STATE"
	chmod 755 "$STATE"
}

# con_start NAME COLS ROWS [ENV=V...] [-- ARGS...]: the console in a tmux session NAME,
# on the gateway CON_TARGET names (default: -d $STATE, the local one).
con_start() {
	local name=$1 cols=$2 rows=$3 envs="" cmd
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs="$envs $1"; shift; done
	[ "${1:-}" = -- ] && shift
	cmd="env TERM=tmux-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 PAIA_CONSOLE_TEST_TIMES=1 $envs"
	cmd="$cmd $CONSOLE ${CON_TARGET--d $STATE} $*; echo console-exited=\$?; sleep 600"
	tm new-session -d -s "$name" -x "$cols" -y "$rows" "$cmd" ||
		bail "tmux new-session $name failed"
	# Keys sent before the console reads its terminal would be lost.
	on_screen "$name" "1 overview" 20 >/dev/null || bail "the console did not start: $(screen "$name" | grep .)"
}

keys() { local s=$1; shift; tm send-keys -t "$s" "$@"; }
screen() { tm capture-pane -p -t "$1"; }
screen_e() { tm capture-pane -p -e -t "$1"; }

# normalise: what differs from run to run without being the console's doing.
# NORMALISE_EXTRA: one more sed expression (a remote console's name, say).
normalise() {
	sed -E -e "s#/tmp/paia-tui\.[A-Za-z0-9]{6}#/tmp/paia-tui.STATE_#g" \
		-e 's/committed [0-9]+/committed ~/g' \
		-e 's/[-~0-9.]+\/min/~\/min/g' -e 's/ up [^ ]+ / up ~ /' -e "${NORMALISE_EXTRA:-s/^//}"
}

# on_screen SESSION TEXT [SECONDS]: wait until the screen shows TEXT.
on_screen() {
	local limit=$(( $(date +%s) + ${3:-30} ))
	while :; do
		screen "$1" | grep -qF -- "$2" && return 0
		[ "$(date +%s)" -lt "$limit" ] || { screen "$1" | sed 's/^/# | /'; return 1; }
		sleep 0.2
	done
}

# golden SESSION NAME [SECONDS]: the screen, normalised, becomes the golden NAME
# within the time given (a screen settles as events come); else the diff.
golden() {
	local s=$1 name=$2 limit=$(( $(date +%s) + ${3:-30} )) got="$TMPD/$2.got" want="$GOLDEN/$2.txt"
	if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
		# Settled: the same twice, a second apart.
		local a b
		while :; do
			a=$(screen "$s" | normalise); sleep 1.5; b=$(screen "$s" | normalise)
			[ "$a" = "$b" ] && break
			[ "$(date +%s)" -lt "$limit" ] || break
		done
		printf '%s\n' "$b" >"$want"
		echo "# wrote $want"
		return 0
	fi
	[ -f "$want" ] || { echo "# no golden $want (UPDATE_GOLDEN=1 writes it)"; return 1; }
	while :; do
		screen "$s" | normalise >"$got"
		cmp -s "$got" "$want" && return 0
		[ "$(date +%s)" -lt "$limit" ] || break
		sleep 0.3
	done
	diff -u "$want" "$got" | sed 's/^/# /'
	return 1
}

# The Videos view's preview: its rows (the body below its two lines, over the status
# line), the cells there that are not blank, and the colours they are drawn in (SGRs).
preview_rows() { screen "$1" | sed -n '6,$p' | head -n -1; }
preview_inked() { preview_rows "$1" | tr -d ' \n' | wc -m; }
preview_colours() {
	screen_e "$1" | sed -n '6,$p' | head -n -1 | grep -oE $'\033\\[[0-9;]*[34]8;5;[0-9]+' |
		sort -u | wc -l
}

# task_is ID FIELD VALUE: paiactl's view of the task has FIELD = VALUE.
task_is() { [ "$(task_field "$1" "$2" 2>/dev/null)" = "$3" ]; }

# tui_scenario: an embedded gateway and a fixed set of finished tasks:
# demo-1..3 play the sample AI (scores fixed by their ids; demo-3 with a
# video), bad-1's program exits 3 (a user failure).
tui_scenario() {
	tui_state
	REUSE_STATE=1 gw_start -o gateway.instance_id=golden "$@"
	cp "$SRCDIR/demo/sample-ai.py" "$STATE/programs/sample-ai.py"
	chmod 755 "$STATE/programs/sample-ai.py"
	BAD=$(program bad.sh 'echo "giving up" >&2; exit 3')
	for i in 1 2 3; do
		video=false
		[ "$i" = 3 ] && video=true
		ctl submit --id "demo-$i" --program "file://$STATE/programs/sample-ai.py" \
			--params "{\"frames\":20,\"video\":$video}" >/dev/null || bail "submit demo-$i"
	done
	ctl submit --id bad-1 --program "$BAD" --params '{"frames":3,"video":false}' >/dev/null ||
		bail "submit bad-1"
	for id in demo-1 demo-2 demo-3 bad-1; do
		result_of "$id" 1 60 >/dev/null || bail "no result for $id"
	done
}

TMPD=$(mktemp -d "${TMPDIR:-/tmp}/paia-tui-out.XXXXXX")
STATES="${STATES:-} $TMPD"
