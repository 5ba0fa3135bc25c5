#!/bin/bash
# tests/gpu/probe.sh: the GPU prober (gpu/, tests/gpu/gpuprobe-test)
# against real sshd nodes (tests/env/sshd.sh) whose stand-in nvidia-smi
# prints real GPUs' outputs: values, MIG devices, several GPUs, processes
# tied to pod UIDs through the fixture /proc tree, the X display; a node
# that hangs does not hold the others; garbage, a failed nvidia-smi and a
# 10 MB answer make a node stale with the reason while its last good
# values stay. TAP.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

# 1. A normal round on three nodes with three GPU models.
env_sh fixture 2 h100-mig
env_sh fixture 3 dgx8
out=$(probe -t 10000 "$N1" "$N2" "$N3")
l1=$(line_of "$out" n1 1)
l2=$(line_of "$out" n2 1)
l3=$(line_of "$out" n3 1)
check "every node answers its first round" \
	[ "$(jget "$l1" 'r["ok"]')$(jget "$l2" 'r["ok"]')$(jget "$l3" 'r["ok"]')" = TrueTrueTrue ]
check "RTX 4080 SUPER values as nvidia-smi printed them" \
	[ "$(jget "$l1" '[r["gpus"][0][k] for k in ("name","util_gpu","util_mem","mem_used","mem_total","temp","power","power_limit","clock_sm","pstate")]')" = \
	"['NVIDIA GeForce RTX 4080 SUPER', 7, 2, 1474, 16376, 46, 84.24, 320, 2805, 'P2']" ]
check "PID 5021 (cgroup v2, systemd driver) is in pod 6f1c2b3a-..., burstable" \
	[ "$(jget "$l1" '[(p["pod_uid"],p["container_id"][:12],p["qos"],p["gpu"]) for p in r["procs"] if p["pid"]==5021]')" = \
	"[('6f1c2b3a-9d4e-4c6b-8a55-2f0e1d7c9b11', '3f6c1e2b9a0d', 'burstable', 0)]" ]
check "PID 5022 (cgroup v1, cgroupfs driver) is in pod 0a1b2c3d-..., besteffort" \
	[ "$(jget "$l1" '[(p["pod_uid"],p["qos"],p["used_mem"]) for p in r["procs"] if p["pid"]==5022]')" = \
	"[('0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', 'besteffort', 503)]" ]
check "PID 2165 (a desktop session) is in no pod" \
	[ "$(jget "$l1" '[p["pod_uid"] for p in r["procs"] if p["pid"]==2165]')" = "[None]" ]
check "H100 in MIG mode: utilisation [N/A] kept as n/a, 4 MIG devices listed" \
	[ "$(jget "$l2" '(r["gpus"][0]["util_gpu"], [m["profile"] for m in r["gpus"][0]["migs"]])')" = \
	"('n/a', ['3g.40gb', '2g.20gb', '1g.10gb', '1g.10gb'])" ]
check "kubelet nested in a container, CRI-O, and Docker outside Kubernetes" \
	[ "$(jget "$l2" 'sorted((p["pid"],p["pod_uid"],p["qos"]) for p in r["procs"])')" = \
	"[(21180, '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f', 'besteffort'), (21181, '2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a', 'guaranteed'), (21198, None, None)]" ]
check "eight GPUs, each process on its own GPU and pod" \
	[ "$(jget "$l3" '(len(r["gpus"]), sorted((p["gpu"], p["pod_uid"][:9]) for p in r["procs"]) == [(i, "7e00000%d-" % i) for i in range(8)])')" = "(8, True)" ]

# 2. The X display: down without a server; up with a real one (Xvfb).
check "no X server: the display is down, no socket" \
	[ "$(jget "$l1" '(r["display"], "no X socket" in r["display_detail"])')" = "('down', True)" ]
XDISP=$((200 + SSHD_PORT % 50))
if command -v Xvfb >/dev/null && command -v xdpyinfo >/dev/null && [ ! -e "/tmp/.X11-unix/X$XDISP" ]; then
	Xvfb ":$XDISP" -nolisten tcp -ac >"$WORK/xvfb.log" 2>&1 &
	XPID=$!
	wait_for 20 test -S "/tmp/.X11-unix/X$XDISP"
	out=$(probe -t 10000 -d ":$XDISP" "$N1")
	kill "$XPID"; wait "$XPID" 2>/dev/null
	check "an X server on :$XDISP: the display is up" \
		[ "$(jget "$(line_of "$out" n1 1)" 'r["display"]')" = up ]
else
	ok "# SKIP no Xvfb/xdpyinfo, or :$XDISP is taken"
fi

# 3. A node that hangs holds neither the others nor the loop.
env_sh fixture 2 rtx4080s
env_sh fixture 3 rtx4080s
env_sh mode 2 hang
out=$(probe -t 6000 "$N1" "$N2" "$N3")
l1=$(line_of "$out" n1 1)
l2=$(line_of "$out" n2 1)
l3=$(line_of "$out" n3 1)
diag "rounds: n1 $(jget "$l1" 'r["round_ms"]') ms, n3 $(jget "$l3" 'r["round_ms"]') ms, n2 (hung) $(jget "$l2" 'r["round_ms"]') ms"
check "the nodes beside the hung one end their round, well within the deadline" \
	[ "$(jget "$l1" 'r["ok"] and r["round_ms"] < 6000')$(jget "$l3" 'r["ok"] and r["round_ms"] < 6000')" = TrueTrue ]
check "... and before the hung node's deadline passes" \
	[ "$(jget "$l1" 'r["t_ms"]')" -lt "$(jget "$l2" 'r["t_ms"]')" ]
check "the hung node is stale at its deadline: no answer within 6000 ms" \
	[ "$(jget "$l2" '(r["ok"], "no answer within 6000 ms" in r["stale"], 5900 <= r["round_ms"] < 11000)')" = \
	"(False, True, True)" ]
check "the hung nvidia-smi does not outlive the round on the node (timeout in the script)" \
	wait_for 20 [ "$(lingering)" = 0 ]

# 4. Stale keeps the last good values, with their age and the reason.
env_sh mode 2 normal
rm -f "$WORK/out"
probe -t 5000 -I 1500 -n 2 "$N1" >"$WORK/out" &
BG_PID=$!
wait_for 30 grep -q '"round":1' "$WORK/out"
env_sh mode 1 fail
wait "$BG_PID"
BG_PID=
out=$(cat "$WORK/out")
l2=$(line_of "$out" n1 2)
check "nvidia-smi failing: stale with its own message" \
	jok "$l2" 'not r["ok"] and "couldn'"'"'t communicate with the NVIDIA driver" in r["stale"] and "exited 9" in r["stale"]'
check "... the last good values stay, with their age" \
	[ "$(jget "$l2" '(r["gpus"][0]["mem_used"], r["age_ms"] >= 1000)')" = "(1474, True)" ]

# 5. Garbage names the line; a 10 MB answer is cut at the 1 MiB cap. Peak
# RSS compared: under AddressSanitizer freed blocks wait in its quarantine
# and every buffer read would stay counted, so these two runs go without it
# (an option only sanitizer builds read).
env_sh mode 1 normal
noq="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
out=$(ASAN_OPTIONS=$noq probe -t 10000 "$N1")
hwm_normal=$(summary "$out" hwm_kb)
env_sh mode 2 garbage
env_sh mode 3 huge
out=$(ASAN_OPTIONS=$noq probe -t 10000 "$N2" "$N3")
l2=$(line_of "$out" n2 1)
l3=$(line_of "$out" n3 1)
diag "garbage: $(jget "$l2" 'r["stale"]')"
diag "huge: $(jget "$l3" 'r["stale"]'); peak RSS $(summary "$out" hwm_kb) KiB vs $hwm_normal KiB"
check "garbage: stale, the reason names the line and what is wrong" \
	jok "$l2" 'not r["ok"] and "probe answer: line 3: " in r["stale"] and "12 expected" in r["stale"]'
check "a 10 MB answer is cut at the cap" \
	jok "$l3" 'not r["ok"] and "answer over 1048576 bytes, cut" in r["stale"] and r["round_ms"] < 10000'
check "... and the prober's memory did not hold it (peak RSS +$(( $(summary "$out" hwm_kb) - hwm_normal )) KiB)" \
	[ $(( $(summary "$out" hwm_kb) - hwm_normal )) -lt 8192 ]
# 6. The key restricted to the probe (command= in authorized_keys): the
# prober works the same; the node's proc root wins over the one asked
# for; the key runs nothing else.
env_sh mode 2 normal
env_sh mode 3 normal
out=$(drv probe -k "$SSHD_KNOWN_HOSTS" -i "$SSHD_FORCED_KEY" -u "$SSHD_USER" -p /nonexistent -t 10000 "$N1")
l1=$(line_of "$out" n1 1)
check "forced command: a round answers, processes tied to pods by the node's own /proc" \
	jok "$l1" 'r["ok"] and [p["pod_uid"] for p in r["procs"] if p["pid"] == 5021] == ["6f1c2b3a-9d4e-4c6b-8a55-2f0e1d7c9b11"]'
other=$(ssh -n -i "$SSHD_FORCED_KEY" -p "$SSHD_PORT" -o BatchMode=yes -o UserKnownHostsFile="$SSHD_KNOWN_HOSTS" \
	"$SSHD_USER@127.0.0.1" 'id; echo ran' 2>&1)
rc=$?
diag "the forced key asked to run id: exit $rc: $other"
forced_refused() { [ "$rc" = 2 ] && ! contains "$other" ran && contains "$other" "paia-gpu-probe: --serve or a nonce"; }
check "forced command: the key runs nothing else" forced_refused
check "gpuprobe-test exited 0 each run (no crash, no sanitizer report)" drivers_clean
tap_done
