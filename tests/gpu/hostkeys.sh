#!/bin/bash
# tests/gpu/hostkeys.sh: who the prober trusts (common/ssh.c through
# tests/gpu/gpuprobe-test, real sshd nodes of tests/env/sshd.sh): an
# unknown host key and a changed one are refused naming the host and the
# SHA256 fingerprint exactly as ssh-keygen prints it; accept-new records
# an unknown key (and is then trusted, by OpenSSH's ssh too) but never
# accepts a changed one; @revoked keys are refused; a user key the node
# does not know is refused. TAP.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

restore_known_hosts() { env_sh known-hosts; }
trap 'restore_known_hosts; gpu_cleanup' EXIT
P2=$((SSHD_PORT + 1))
P3=$((SSHD_PORT + 2))

# 1. Unknown: known_hosts lists the other nodes only.
grep -v "^\[127.0.0.1\]:$SSHD_PORT " "$SSHD_KNOWN_HOSTS" >"$WORK/others"
out=$(drv probe -k "$WORK/others" -i "$SSHD_KEY" -u "$SSHD_USER" -t 5000 "$N1")
l=$(line_of "$out" n1 1)
diag "$(jget "$l" 'r["stale"]')"
check "an unknown host key is refused" jok "$l" 'not r["ok"] and "is unknown" in r["stale"]'
check "... naming the host and the fingerprint as ssh-keygen -l prints it ($(fingerprint 1))" \
	jok "$l" '"[127.0.0.1]:'"$SSHD_PORT"'" in r["stale"] and "ssh-ed25519 '"$(fingerprint 1)"'" in r["stale"]'
check "... and nothing was written to known_hosts" \
	[ "$(wc -l <"$WORK/others")" = $((SSHD_NODES - 1)) ]

# 2. accept-new: a file that does not exist yet, then the key is known.
out=$(drv probe -a -k "$WORK/new" -i "$SSHD_KEY" -u "$SSHD_USER" -p "$SSHD_PROC" -t 5000 "$N1")
check "accept-new: an unknown host is trusted on first sight" jok "$(line_of "$out" n1 1)" 'r["ok"]'
known_in() { ssh-keygen -F "$1" -f "$2" >/dev/null; }
check "... and its key recorded as [host]:port (ssh-keygen -F finds it)" \
	known_in "[127.0.0.1]:$SSHD_PORT" "$WORK/new"
check "... a line OpenSSH's ssh trusts with StrictHostKeyChecking=yes" \
	ssh -n -i "$SSHD_KEY" -p "$SSHD_PORT" -o BatchMode=yes -o StrictHostKeyChecking=yes \
	-o UserKnownHostsFile="$WORK/new" -o GlobalKnownHostsFile=/dev/null "$SSHD_USER@127.0.0.1" true
out=$(drv probe -k "$WORK/new" -i "$SSHD_KEY" -u "$SSHD_USER" -p "$SSHD_PROC" -t 5000 "$N1")
check "... and later rounds without accept-new trust it" jok "$(line_of "$out" n1 1)" 'r["ok"]'
check "... recorded once" [ "$(grep -c . "$WORK/new")" = 1 ]

# 3. Changed: node 3 gets a new host key; known_hosts has the old one.
old=$(fingerprint 3)
env_sh rekey 3
new=$(fingerprint 3)
cp "$SSHD_KNOWN_HOSTS" "$WORK/kh"
out=$(drv probe -a -k "$WORK/kh" -i "$SSHD_KEY" -u "$SSHD_USER" -t 5000 "$N3")
l=$(line_of "$out" n3 1)
diag "$(jget "$l" 'r["stale"]')"
check "a changed host key is refused, even with accept-new" jok "$l" 'not r["ok"] and "CHANGED" in r["stale"]'
check "... naming the host and the new key's fingerprint ($new, was $old)" \
	jok "$l" '"[127.0.0.1]:'"$P3"'" in r["stale"] and "'"$new"'" in r["stale"]'
check "... known_hosts untouched" cmp -s "$SSHD_KNOWN_HOSTS" "$WORK/kh"
# A host known by a key of another type counts as changed too.
ssh-keygen -q -t ecdsa -N '' -f "$WORK/ecdsa"
printf '[127.0.0.1]:%s %s\n' "$P2" "$(cut -d' ' -f1,2 "$WORK/ecdsa.pub")" >"$WORK/other-type"
out=$(drv probe -a -k "$WORK/other-type" -i "$SSHD_KEY" -u "$SSHD_USER" -t 5000 "$N2")
check "a host known by a key of another type: refused as changed, not accepted as new" \
	jok "$(line_of "$out" n2 1)" 'not r["ok"] and "CHANGED" in r["stale"]'

# 4. @revoked wins over a matching line.
{ printf '@revoked * %s\n' "$(cut -d' ' -f1,2 "$SSHD_DIR/node2/hostkey.pub")"; cat "$SSHD_KNOWN_HOSTS"; } >"$WORK/revoked"
out=$(drv probe -k "$WORK/revoked" -i "$SSHD_KEY" -u "$SSHD_USER" -t 5000 "$N2")
check "a host key marked @revoked is refused" jok "$(line_of "$out" n2 1)" 'not r["ok"] and "@revoked" in r["stale"]'

# 5. The user's key.
out=$(drv probe -k "$SSHD_KNOWN_HOSTS" -i "$SSHD_OTHER_KEY" -u "$SSHD_USER" -t 5000 "$N1")
l=$(line_of "$out" n1 1)
diag "$(jget "$l" 'r["stale"]')"
check "a user key the node does not accept is refused, naming user and key" \
	jok "$l" 'not r["ok"] and "user '"$SSHD_USER"': key '"$SSHD_OTHER_KEY"' refused" in r["stale"]'
out=$(drv probe -k "$SSHD_KNOWN_HOSTS" -i "$WORK/missing-key" -u "$SSHD_USER" -t 5000 "$N1")
check "a key file that is not there: refused or unreadable, named" \
	jok "$(line_of "$out" n1 1)" 'not r["ok"] and "'"$WORK/missing-key"'" in r["stale"]'
# 6. A node given by name: resolved through evdns (from /etc/hosts here:
# no query leaves the machine), known_hosts names it as given.
out=$(drv probe -a -k "$WORK/named" -i "$SSHD_KEY" -u "$SSHD_USER" -p "$SSHD_PROC" -t 5000 "named=localhost:$SSHD_PORT")
named_ok() { jok "$(line_of "$out" named 1)" 'r["ok"]' && known_in "[localhost]:$SSHD_PORT" "$WORK/named"; }
check "a node given by name: resolved, its key recorded under that name" named_ok
check "gpuprobe-test exited 0 each run (no crash, no sanitizer report)" drivers_clean
tap_done
