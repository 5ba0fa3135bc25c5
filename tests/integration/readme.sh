#!/bin/bash
# The README's "Trying it" block, run as it is written (the commands as a
# new operator pastes them) in the build tree, with a HOME and TMPDIR of
# its own, so the embedded gateway's state folder is new: every one of
# the five tasks must succeed, the gateway must drain and exit 0.
#
# It failed before: the gateway was started without --demo, so
# <state>/demo/sample-ai.py did not exist and every task ended as error.
. "$(dirname "$0")/lib.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/paia-readme.XXXXXX")
STATES="$T"
mkdir -p "$T/home" "$T/tmp"

# The indented lines between "## Trying it" and the next heading.
awk '/^## /{on = ($0 == "## Trying it"); next} on && /^    /{print substr($0, 5)}' \
	"$SRCDIR/README.md" > "$T/block.sh"
diag "the block:" "$(sed 's/^/  /' "$T/block.sh")"
check "README.md has a Trying it block starting the gateway" \
	grep -q '^\./gateway/paia-gateway --embedded &' "$T/block.sh"

# Like a terminal: bash, commands from the block in order; no job
# control messages (non-interactive). A block that hangs is a failure.
(cd "$BUILDDIR" && HOME=$T/home TMPDIR=$T/tmp timeout 300 bash -e "$T/block.sh") \
	>"$T/out" 2>"$T/err"
rc=$?
sed 's/^/# out: /' "$T/out"
grep -v 'level=info' "$T/err" | sed 's/^/# err: /'
check "the block runs to its end (exit 0)" [ "$rc" -eq 0 ]
check "the five tasks were submitted" test "$(grep -c '^t-[0-9a-f]*-[0-9a-f]*$' "$T/out")" -eq 5
check "every task succeeded (results)" \
	test "$(grep -c '^t-[0-9a-f-]* *1 *succeeded ' "$T/out")" -eq 5
check "no task failed or errored" eval '! grep -Eq "^t-[0-9a-f-]* +[0-9]+ +(failed|error|timeout|cancelled) " "$T/out"'
check "status and tasks answered" \
	eval 'grep -q "^instance " "$T/out" && grep -q "^TASK  *ATTEMPT  *STATE" "$T/out"'
check "the gateway drained and exited 0" grep -q 'msg="stopping" exit_code=0' "$T/err"
check "the state folder was the test's own" test -d "$T/tmp/paia-$(id -u)/demo"

tap_done
