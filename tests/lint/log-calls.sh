#!/bin/sh
# The daemon's log calls keep to logfmt (tests/lint/log-calls.py): every
# %s value through log_q(), key=value fields, attempt= beside task=.
SRCDIR=${SRCDIR:-.}
command -v python3 >/dev/null 2>&1 || { echo "1..0 # SKIP python3 is needed"; exit 0; }
cd "$SRCDIR" && exec python3 tests/lint/log-calls.py gateway common k8s vpn gpu
