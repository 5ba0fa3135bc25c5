#!/bin/bash
# tests/gpu/ssh.sh: the SSH session itself (common/ssh.c, through
# tests/gpu/gpuprobe-test) against a real sshd node of tests/env/sshd.sh:
# one-shot commands (output, stderr, exit status, a signal, the output
# cap, the deadline) and the long-lived channel the remote console will
# use (JSON lines through stdin and stdout, 1 MB and more, EOF, exit
# status), with a key file and with the ssh-agent. TAP.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

NODE=127.0.0.1:$SSHD_PORT
sx() { drv "$1" -k "$SSHD_KNOWN_HOSTS" -i "${KEY:-$SSHD_KEY}" -u "$SSHD_USER" "${@:2}"; }

out=$(sx exec "$NODE" 'printf "hello\n"; echo oops >&2; exit 3')
diag "$out"
check "exec: stdout, stderr and the exit status" \
	jok "$out" 'r["error"] is None and r["out"] == "hello\n" and r["err"].endswith("oops\n") and r["exit"] == 3'
out=$(sx exec "$NODE" 'kill -TERM $$')
check "exec: a command killed by a signal reports it" \
	jok "$out" 'r["error"] is None and r["signal"] == "TERM" and r["exit"] == -1'
out=$(sx exec -c 100000 "$NODE" 'head -c 3000000 /dev/zero')
check "exec: output over the cap is cut at the cap, and said so" \
	jok "$out" 'r["truncated"] and r["out_len"] == 100000 and "output over 100000 bytes, cut" in r["error"]'
out=$(sx exec -t 2000 "$NODE" 'sleep 30')
diag "$(jget "$out" 'r["error"]')"
check "exec: no answer by the deadline fails it, naming the deadline" \
	jok "$out" '"no answer within 2000 ms" in r["error"]'

out=$(sx stream -L 25000 "$NODE" cat)
diag "$out"
check "stream: 25,000 JSON lines (1.5 MB) through cat come back byte for byte, a pause included" \
	jok "$out" 'r["error"] is None and r["same"] and r["received"] > 1500000 and r["exit"] == 0'
out=$(sx stream -L 10 "$NODE" 'head -n 3; exit 7')
check "stream: the command's exit status, output up to its end" \
	jok "$out" 'r["exit"] == 7 and r["received"] == r["sent"] // 10 * 3'

# The ssh-agent: a key file is not needed.
if command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null; then
	eval "$(ssh-agent -s -a "$WORK/agent.sock")" >/dev/null
	ssh-add -q "$SSHD_OTHER_KEY" 2>/dev/null  # one the node refuses, tried first
	ssh-add -q "$SSHD_KEY" 2>/dev/null
	out=$(KEY=- sx exec "$NODE" 'echo via-agent')
	check "the agent: its second key is accepted after the first is refused" \
		jok "$out" 'r["error"] is None and r["out"] == "via-agent\n"'
	ssh-add -q -D 2>/dev/null
	ssh-add -q "$SSHD_OTHER_KEY" 2>/dev/null
	out=$(KEY=- sx exec "$NODE" true)
	check "the agent with no key the node accepts: refused, said so" \
		jok "$out" '"none of the ssh-agent" in r["error"]'
	kill "$SSH_AGENT_PID"
else
	ok "# SKIP no ssh-agent"
	ok "# SKIP no ssh-agent"
fi
check "gpuprobe-test exited 0 each run (no crash, no sanitizer report)" drivers_clean
tap_done
