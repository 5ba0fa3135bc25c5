#!/bin/bash
# The local runner's sandbox (runner.sandbox = bwrap, the default), with
# hostile user programs: they cannot read or hard-link the gateway's
# state folder, config, launch journal or environment, another task's
# folder, a root-only file they can see; cannot write outside output/
# (a private /tmp aside) nor reach the network; leave nothing running
# (setsid, double forks, SIGTERM ignored, the gateway killed -9). Params
# of any size reach the game (a file; PAIA_PARAMS only when small).
# Started as root, games run as runner.user; started as another user
# (setpriv), the namespaces alone hide that user's own files. Start-up
# refuses what cannot work, naming runner.sandbox = none.
. "$(dirname "$0")/lib.sh"

if ! command -v bwrap >/dev/null 2>&1; then
	echo "1..0 # SKIP bwrap not installed (scripts/setup.sh installs bubblewrap)"
	exit 0
fi
MARK=sbx$$x$RANDOM
ME=$(id -u)
RUNNER_USER=paia-game
SECRET_DIR=$(mktemp -d "${TMPDIR:-/tmp}/paia-sb-secret.XXXXXX")
CFG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/paia-sb-cfg.XXXXXX")
STATES="$SECRET_DIR $CFG_DIR"
chmod 755 "$SECRET_DIR" "$CFG_DIR"
echo "only-its-owner-$MARK" > "$SECRET_DIR/secret"
chmod 600 "$SECRET_DIR/secret"
CFG=$CFG_DIR/gateway.conf
printf '[storage]\ns3_access_key = AKIATEST\ns3_secret_key = config-%s\n' "$MARK" > "$CFG"
chmod 600 "$CFG"
export SB_SECRET=environ-$MARK

# A user program that tries everything params tell it to, reports each
# try as one "SBX {json}" line on stderr (the task's log), then plays.
HOSTILE=$(cat <<'PY'
import json, os, signal, socket, sys

def say(**kw):
    print("SBX " + json.dumps(kw), file=sys.stderr, flush=True)

if "PAIA_PARAMS_FILE" in os.environ:
    p = json.load(open(os.environ["PAIA_PARAMS_FILE"]))
else:
    p = json.loads(os.environ["PAIA_PARAMS"])
say(what="uid", uid=os.getuid(), gid=os.getgid(), groups=os.getgroups())
for name, path in p.get("read", {}).items():
    try:
        data = open(path, "rb").read(1 << 20)
        open("output/stolen-" + name, "wb").write(data)
        say(what="read", name=name, ok=True)
    except OSError as e:
        say(what="read", name=name, ok=False, errno=e.errno)
for name, path in p.get("read", {}).items():
    try:
        os.link(path, "output/link-" + name)
        say(what="link", name=name, ok=True)
    except OSError as e:
        say(what="link", name=name, ok=False, errno=e.errno)
for name, path in p.get("write", {}).items():
    try:
        with open(path, "w") as f:
            f.write("pwned")
        say(what="write", name=name, ok=True)
    except OSError as e:
        say(what="write", name=name, ok=False, errno=e.errno)
for name, (host, port) in p.get("tcp", {}).items():
    try:
        socket.create_connection((host, port), timeout=3).close()
        say(what="connect", name=name, ok=True)
    except OSError as e:
        say(what="connect", name=name, ok=False, errno=e.errno)
for name, path in p.get("unix", {}).items():
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        say(what="connect", name=name, ok=True)
    except OSError as e:
        say(what="connect", name=name, ok=False, errno=e.errno)
    s.close()
# Leave something behind: a session of its own, double-forked, deaf to
# SIGTERM, its command line carrying the marker.
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.execv("/bin/sleep", ["sleep-" + p["marker"], "300"])
    os._exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
for line in sys.stdin:
    print("STAY", flush=True)
PY
)

# hostile_params KIND...: the params of a hostile task in gateway $STATE.
hostile_params() {
	local port
	port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bootstrap_servers"].rsplit(":",1)[1])' "$STATE/embedded.json")
	python3 - "$STATE" "$MARK" "$CFG" "$SECRET_DIR/secret" "$GW_PID" "$port" "$1" "${2:-100}" <<'PY'
import json, sys
state, mark, cfg, secret, gw, port, task, frames = sys.argv[1:]
print(json.dumps({
    "frames": int(frames), "frame_timeout_ms": 20000, "video": False, "marker": mark,
    "read": {
        "state-embedded": f"{state}/embedded.json", "state-log": f"{state}/gateway.log",
        "config": cfg, "root-only": secret, "journal": f"{state}/launched/{task}.1",
        "victim-input": f"{state}/tasks/victim/input/victim.py",
        "victim-result": f"{state}/results/victim/1/log.txt",
        "gateway-environ": f"/proc/{gw}/environ",
    },
    "write": {
        "state": f"{state}/pwned-{mark}", "host-tmp": f"/tmp/paia-sb-pwned-{mark}",
        "task-folder": f"{state}/tasks/{task}/pwned", "workspace": "/workspace/pwned",
        "input": "/workspace/input/pwned", "root": "/pwned", "usr": f"/usr/pwned-{mark}",
    },
    "tcp": {"kafka": ["127.0.0.1", int(port)]},
    "unix": {"control": f"{state}/control.sock"},
}))
PY
}

# sbx_log ID: the SBX lines of a task's uploaded log.
sbx_log() {
	local r log
	r=$(result_of "$1") || return 1
	log=$(jget "$r" 'r["log_url"]')
	grep '^SBX ' "${log#file://}" | cut -c5-
}

# sbx_check LINES CHECK: a Python expression on "rs" (the parsed lines)
# and "by" (what -> name -> line); prints what failed.
sbx_check() {
	python3 - "$1" "$2" <<'PY'
import json, sys
rs = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
by = {}
for r in rs:
    by.setdefault(r["what"], {})[r.get("name")] = r
ok = eval(sys.argv[2])
if not ok:
    print("# " + json.dumps(rs)[:3000])
sys.exit(0 if ok else 1)
PY
}

# marker_procs: processes whose command line carries the marker.
marker_procs() {
	grep -las -e "[s]leep-$MARK" /proc/[0-9]*/cmdline | sed 's|^/proc/||; s|/cmdline$||'
	return 0
}
some_left() { [ -n "$(marker_procs)" ]; }
nothing_left() {
	local left
	left=$(marker_procs)
	[ -z "$left" ] || { diag "still running: $left"; return 1; }
}

# no_marker_in DIR...: none of the secrets reached these folders.
no_marker_in() {
	! grep -rqs -e "only-its-owner-$MARK" -e "config-$MARK" -e "environ-$MARK" \
		-e "victim-$MARK" -e '"bootstrap_servers"' "$@"
}

# hostile_run WHO UID [root-only]: a victim task, then a hostile one, in
# gateway $STATE (root-only: the secret file is root's, not the gateway's).
hostile_run() {
	local who=$1 uid=$2 out p rs r
	printf '# victim-%s\nimport sys\nfor l in sys.stdin: print("STAY", flush=True)\n' "$MARK" \
		> "$STATE/programs/victim.py"
	printf '%s\n' "$HOSTILE" > "$STATE/programs/hostile.py"
	ctl submit --id victim --program "file://$STATE/programs/victim.py" \
		--params '{"frames":2,"video":false}' >/dev/null || bail "submit failed"
	r=$(result_of victim) || bail "no result for victim"
	check "$who: a well-behaved program still succeeds in the sandbox" \
		test "$(jget "$r" 'r["status"]')" = succeeded
	p=$(hostile_params hostile 2)
	ctl submit --id hostile --program "file://$STATE/programs/hostile.py" --params "$p" \
		>/dev/null || bail "submit failed"
	r=$(result_of hostile) || bail "no result for hostile"
	check "$who: nothing the hostile program started runs once its result is in" nothing_left
	rs=$(sbx_log hostile)
	check "$who: the game runs as uid $uid, no supplementary groups" \
		sbx_check "$rs" "by['uid'][None]['uid'] == $uid and by['uid'][None]['groups'] == []"
	for n in state-embedded state-log config journal victim-input victim-result gateway-environ; do
		check "$who: it cannot read $n" \
			sbx_check "$rs" "by['read']['$n']['ok'] is False"
	done
	if [ "$3" = root-only ]; then
		check "$who: a root-only file it can see (runner.ro_paths) is refused: EACCES" \
			sbx_check "$rs" "by['read']['root-only'] == {'what': 'read', 'name': 'root-only', 'ok': False, 'errno': 13}"
	else
		ok "$who: a root-only file is refused # SKIP the test does not run as root"
	fi
	check "$who: it cannot hard-link any of them into output/" \
		sbx_check "$rs" "len(by['link']) == len(by['read']) == 8 and not any(x['ok'] for x in by['link'].values())"
	check "$who: it writes nowhere outside output/ and its private /tmp" \
		sbx_check "$rs" "len(by['write']) == 7 and not any(x['ok'] for x in by['write'].values() if x['name'] != 'host-tmp')"
	check "$who: its /tmp is its own (the host's /tmp is untouched)" \
		test ! -e "/tmp/paia-sb-pwned-$MARK"
	check "$who: nothing appeared in the state or task folders" \
		sh -c "! ls '$STATE/pwned-$MARK' '$STATE/tasks/hostile/pwned' '$STATE/tasks/hostile/input/pwned' 2>/dev/null | grep -q ."
	check "$who: no network (the embedded Kafka port) and no control socket" \
		sbx_check "$rs" "not by['connect']['kafka']['ok'] and not by['connect']['control']['ok']"
	check "$who: no secret reached its output or its uploaded results" \
		no_marker_in "$STATE/tasks/hostile/output" "$STATE/results/hostile"
}

# === 1. the gateway as the test's user (root in CI: games as runner.user) ===
if [ "$ME" -eq 0 ]; then
	UID_GAME=$(id -u "$RUNNER_USER") || bail "no user $RUNNER_USER: run scripts/setup.sh"
else
	UID_GAME=$ME
fi
gw_start -c "$CFG" -o runner.ro_paths="$SECRET_DIR" -o runner.kill_grace_s=1
check "start-up logs the sandbox" grep -q 'msg="games run sandboxed" sandbox=bwrap' "$GW_LOG"
hostile_run "as $(id -un)" "$UID_GAME" "$([ "$ME" -eq 0 ] && echo root-only)"

# --- params of 200 KB: one environment string holds 128 KiB -------------------
PARAMS_PROG=$(program params.sh 'echo "SBX {\"what\":\"params\",\"env\":$([ -n "${PAIA_PARAMS+x}" ] && echo true || echo false),\"file\":$(wc -c < "$PAIA_PARAMS_FILE"),\"path\":\"$PAIA_PARAMS_FILE\"}" >&2
while read l; do echo STAY; done')
# (paiactl's own --params would meet the same limit: the task goes as a file.)
python3 -c 'import json, sys; print(json.dumps({"version": 1, "task_id": "bigparams", "game": "catch",
    "program": sys.argv[1], "params": {"frames": 2, "video": False, "pad": "x" * 200000}}))' \
	"$PARAMS_PROG" > "$STATE/bigparams.json"
ctl submit --raw-file "$STATE/bigparams.json" >/dev/null
r=$(result_of bigparams) || bail "no result for bigparams"
check "200 KB params: the task succeeds at its first attempt (no E2BIG, no retry)" \
	test "$(jget "$r" 'r["status"] + "/" + str(r["attempt"])')" = succeeded/1
rs=$(sbx_log bigparams)
check "200 KB params reach the game whole in PAIA_PARAMS_FILE, not in PAIA_PARAMS" \
	sbx_check "$rs" "by['params'][None]['file'] > 200000 and by['params'][None]['env'] is False and by['params'][None]['path'] == '/workspace/params.json'"
ctl submit --id smallparams --program "$PARAMS_PROG" --params '{"frames":2,"video":false}' >/dev/null
rs=$(sbx_log smallparams)
check "small params are in PAIA_PARAMS too" sbx_check "$rs" "by['params'][None]['env'] is True"

# --- timeout: SIGTERM ignored, setsid children: nothing survives the task --------
DEAF=$(program deaf.sh "trap '' TERM
setsid sh -c \"trap '' TERM; sleep 300; :\" sleep-$MARK &
exec sleep 301")
ctl submit --id deaf --program "$DEAF" --timeout 5 \
	--params '{"frames":100,"frame_timeout_ms":100000,"video":false}' >/dev/null
check "the deaf program's setsid child runs" wait_for 60 some_left
r=$(result_of deaf) || bail "no result for deaf"
check "a program deaf to SIGTERM times out" test "$(jget "$r" 'r["status"]')" = timeout
check "and nothing of it runs once its result is in" nothing_left

# --- the gateway killed -9 mid-game: its games die with it ----------------------
ctl submit --id orphan --program "$DEAF" --timeout 600 \
	--params '{"frames":100,"frame_timeout_ms":100000,"video":false}' >/dev/null
check "the orphan's setsid child runs" wait_for 60 some_left
kill -KILL "$GW_PID"; wait "$GW_PID" 2>/dev/null
check "after kill -9 of the gateway nothing of its games runs" wait_for 15 nothing_left

# --- a game deaf to SIGTERM itself: SIGKILL after the grace, its namespace after it --
GAMEDIR=$(mktemp -d "${TMPDIR:-/tmp}/paia-sb-game.XXXXXX")
STATES="$STATES $GAMEDIR"
chmod 755 "$GAMEDIR"
printf '#!/bin/sh\ntrap "" TERM\nsetsid sh -c "trap \\"\\" TERM; sleep 300; :" sleep-%s &\nsleep 300\n' \
	"$MARK" > "$GAMEDIR/deaf-game"
chmod 755 "$GAMEDIR/deaf-game"
gw_start -o runner.command="$GAMEDIR/deaf-game" -o runner.kill_grace_s=1
ctl submit --id deafgame --program "$(program any.sh 'exit 0')" --timeout 3 >/dev/null
check "a game deaf to SIGTERM starts its setsid child" wait_for 60 some_left
r=$(result_of deafgame) || bail "no result for deafgame"
check "it times out" test "$(jget "$r" 'r["status"]')" = timeout
check "it got SIGKILL after runner.kill_grace_s" grep -q 'msg="game ignored SIGTERM, sending SIGKILL"' "$GW_LOG"
check "and nothing of its namespace runs once its result is in" nothing_left
gw_stop

# === 2. start-up refuses what cannot work ========================================
refused() {	# refused NAME PART ARGS...: the gateway exits 1 saying PART
	local name=$1 part=$2 out rc d
	shift 2
	d=$(mktemp -d "${TMPDIR:-/tmp}/paia-sb-ref.XXXXXX")
	STATES="$STATES $d"
	out=$(timeout 60 "$GATEWAY" --embedded --state-dir "$d" "$@" 2>&1); rc=$?
	check "$name" fails_with "$rc" "$out" "$part"
}
refused "no bwrap: refused, naming runner.sandbox = none" "runner.sandbox = none runs games without a sandbox" \
	-o runner.bwrap=/nonexistent/bwrap
refused "a game command that does not exist is refused at start, naming it" \
	"runner.command: /nonexistent/paia-game: No such file or directory" \
	-o runner.command=/nonexistent/paia-game
refused "runner.ro_paths may not show the state folder" "would show games the state folder" \
	-o runner.ro_paths="${TMPDIR:-/tmp}"
refused "runner.ro_paths must be absolute" "runner.ro_paths: tmp is not an absolute path" \
	-o runner.ro_paths=tmp
if [ "$ME" -eq 0 ]; then
	refused "as root, a missing runner.user is refused, naming scripts/setup.sh" \
		"runner.user paia-no-such-user does not exist: games never run as root (scripts/setup.sh creates" \
		-o runner.user=paia-no-such-user
	refused "as root, runner.user root is refused" "runner.user root is root" -o runner.user=root
fi

# === 3. runner.sandbox = none: a warning, and still never root ===================
if [ "$ME" -eq 0 ]; then
	STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-it.XXXXXX")
	STATES="$STATES $STATE"
	chmod 711 "$STATE"
	mkdir -m 711 "$STATE/tasks"
	REUSE_STATE=1 gw_start -o runner.sandbox=none -o runner.kill_grace_s=1
	check "none: start-up warns that games run without a sandbox" \
		grep -q 'level=warn msg="runner.sandbox = none: games run without a sandbox' "$GW_LOG"
	printf '%s\n' "$HOSTILE" > "$STATE/programs/hostile.py"
	# Unconfined, its daemon and its file in the host's /tmp stay: its own marker.
	SANDBOXED_MARK=$MARK
	MARK=none$MARK
	p=$(hostile_params hostile 2)
	ctl submit --id hostile --program "file://$STATE/programs/hostile.py" --params "$p" >/dev/null
	rs=$(sbx_log hostile) || bail "no result for hostile (none)"
	check "none: (unconfined) its setsid daemon outlives the game, as documented" some_left
	kill -KILL $(marker_procs) 2>/dev/null
	rm -f "/tmp/paia-sb-pwned-$MARK"
	MARK=$SANDBOXED_MARK
	check "none: the game still runs as $RUNNER_USER, never root" \
		sbx_check "$rs" "by['uid'][None]['uid'] == $UID_GAME"
	check "none: a root-only file is still refused (EACCES)" \
		sbx_check "$rs" "by['read']['root-only']['errno'] == 13"
	gw_stop
	STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-it.XXXXXX")
	STATES="$STATES $STATE"
	out=$(timeout 60 "$GATEWAY" --embedded --state-dir "$STATE" -o runner.sandbox=none 2>&1); rc=$?
	check "none: a state folder $RUNNER_USER cannot reach is refused at start, saying so" \
		fails_with "$rc" "$out" "runner.user must be able to reach the state folder"
fi

# === 4. the gateway as an ordinary user: the sandbox alone hides its files ========
if [ "$ME" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
	STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-it.XXXXXX")
	STATES="$STATES $STATE"
	chown nobody: "$STATE" "$CFG"
	NOBODY=$(id -u nobody)
	GW_WRAP="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups" REUSE_STATE=1 \
		gw_start -c "$CFG" -o runner.ro_paths="$SECRET_DIR" -o runner.kill_grace_s=1
	chown nobody: "$STATE/programs"
	check "as nobody: start-up logs the sandbox, games as the gateway's own user" \
		grep -q 'msg="games run sandboxed" sandbox=bwrap user=nobody ' "$GW_LOG"
	hostile_run "as nobody" "$NOBODY" root-only
	check "as nobody: its own state folder was readable to it without the sandbox" \
		setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		grep -q bootstrap_servers "$STATE/embedded.json"
	gw_stop
	check "as nobody: the gateway exits 0 (rc=$GW_RC)" test "$GW_RC" -eq 0
else
	ok "as an ordinary user # SKIP needs root and setpriv to become nobody"
fi
[ "$tap_failed" -eq 0 ] || gw_dump_log
tap_done
