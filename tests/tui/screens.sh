#!/bin/bash
# Golden screens of paia-console against an embedded gateway running a
# fixed scenario (tests/tui/lib.sh, tui_scenario): every view at 80x24
# and 200x50, the help, --ascii, and the colours (with and without
# NO_COLOR). UPDATE_GOLDEN=1 rewrites the goldens.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

tui_scenario

# One console: every view at 80x24, then the terminal grows to 200x50
# mid-run (the console follows the resize) and every view again.
con_start s 80 24
check "the console connects and shows the gateway" on_screen s golden
for size in 80x24 200x50; do
	if [ "$size" = 200x50 ]; then
		tm resize-window -t s -x 200 -y 50
		check "resized to 200x50 mid-run: the help redrawn at the new size" \
			golden s "help-$size"
		keys s Escape
	fi
	keys s 1
	check "$size: overview" golden s "overview-$size"
	keys s 2
	check "$size: tasks" golden s "tasks-$size"
	keys s : "task demo-2" Enter
	check "$size: one task and its timeline" golden s "task-$size"
	keys s Escape
	check "$size: esc goes back to the tasks" golden s "tasks-$size"
	keys s / "state=failed" Enter
	check "$size: a state filter" golden s "tasks-failed-$size"
	keys s Escape / "demo-[13]" Enter
	check "$size: a regex filter" golden s "tasks-regex-$size"
	keys s Escape
	for v in 3:pods 4:gpus 5:vpn 6:logs 7:videos; do
		keys s "${v%%:*}"
		check "$size: ${v#*:}" golden s "${v#*:}-$size"
	done
	keys s 2 '?'
	check "$size: the help of the tasks view" golden s "help-$size"
done
keys s Escape q
check "q quits, exit status 0" on_screen s "console-exited=0" 10

con_start ascii 80 24 -- --ascii
keys ascii 1
check "--ascii: overview" golden ascii "overview-ascii-80x24"
keys ascii 2
check "--ascii: tasks" golden ascii "tasks-ascii-80x24"
keys ascii q

# Colours: the tasks view draws states in colour; NO_COLOR draws none.
# colour_of SESSION SGR TEXT: TEXT is drawn right after the escape sequence SGR.
colour_of() { screen_e "$1" | grep -qF -- "$(printf '\033[%s%s' "$2" "$3")"; }
any_colour() { screen_e "$1" | grep -qE -- "$(printf '\033')\\[(3|4)[0-7]m"; }
con_start colour 80 24
keys colour 2
on_screen colour "demo-3" >/dev/null
check "colours: done is green" colour_of colour 32m done
check "colours: failed is bold red" colour_of colour 31m failed
check "colours: the column titles are black on green" colour_of colour 42m TASK
con_start nocolour 80 24 NO_COLOR=1
keys nocolour 2
on_screen nocolour "demo-3" >/dev/null
check "NO_COLOR: no colour at all (attributes only)" eval '! any_colour nocolour'
check "NO_COLOR: the titles in reverse video instead" colour_of nocolour 7m TASK
check "NO_COLOR: the screen is the same text" golden nocolour "tasks-80x24"

[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
