#!/bin/bash
# Exactly once under chaos, on a real broker (tests/env/kafka.sh start):
# CHAOS_TASKS tasks (default 1000) and 20 malformed ones, three gateway
# instances in one consumer group, while a driver does its damage:
#
#   kills       every CHAOS_KILL_EVERY s (default 4) a random instance
#               is killed -9 and started again, from start to end
#   restarts    the broker is restarted twice (kafka.sh restart, in the
#               background: kills go on meanwhile)
#   outage      storage fails for CHAOS_OUTAGE_S s (default 10; longer,
#               up to 60 s, until a failed upload has been seen): with
#               tests/env/s3.sh running, results go to s3:// and
#               versitygw is killed (then restarted on its data);
#               without it, a read-only bind mount covers the file://
#               results folder in a mount namespace of the test's own,
#               where the gateways run (root is refused too: EROFS).
#               CHAOS_STORAGE=s3 or file chooses (default auto: s3 when
#               s3.sh runs)
#
# The damage does not depend on the machine's speed: the tasks go in four
# waves and each fault is set off by progress (results counted by a
# read_committed reader): restart 1 in wave 1, the outage in wave 2,
# restart 2 in wave 3. A wave's first part is submitted once the fault
# before it is over; when half of it has results, its second part is
# submitted and the fault begins at once, so the fault meets tasks in
# flight. The last wave goes in only once every planned fault has been
# done, so all of them happen before the last results, fast machine or
# slow.
#
# At the end a read_committed reader must find exactly one result per
# task id, every one of them succeeded, each malformed task exactly once
# in the dead-letter topic, and no game run twice for the same attempt
# (every launch of a user program appends "task attempt" to a shared
# file); and each fault must have taken effect, not only been tried: the
# killed gateways died of SIGKILL, the broker came back under a new pid,
# and uploads failed during the outage (the gateways' logs) and waited
# for storage (upload_wait) instead of ending the tasks: no result may
# end "uploading ...". A gateway killed while its finished games' uploads
# waited uploads them from disk after its restart when it gets their
# partition back (results marked "recovered": counted, not asserted,
# since another instance may get the partition and run the next attempt).
#
# CHAOS_TASKS=N for a longer soak. CHAOS_SHAM=kill|restart|outage makes
# the driver go through the motions of that fault without doing it, to
# check that the test notices (it must fail).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../kafka/lib.sh"

N=${CHAOS_TASKS:-1000}
BAD=20
KILL_EVERY=${CHAOS_KILL_EVERY:-4}
OUTAGE_S=${CHAOS_OUTAGE_S:-10}
OUTAGE_MAX_S=60
LIMIT_S=$((300 + N / 5))
SHAM=${CHAOS_SHAM:-}
STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-chaos.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/a.log
NAMES="a b c"
KAFKA_ENV=$SRCDIR/tests/env/kafka.sh
S3_ENV=$SRCDIR/tests/env/s3.sh
t0=$(date +%s)
now_ms() { date +%s%3N; }

[ "$N" -ge 40 ] || bail "CHAOS_TASKS must be 40 or more (four waves)"
kafka_env_same
case $SHAM in "" | kill | restart | outage) ;; *) bail "CHAOS_SHAM: kill, restart or outage" ;; esac
[ -z "$SHAM" ] || diag "CHAOS_SHAM=$SHAM: that fault is only pretended; the test must fail"

# What the driver left running or mounted goes at exit, whatever happened.
NS_PID= MOUNTED=0 OUTAGE=before R_PID= S3=0
cleanup_all() {
	for n in $NAMES; do [ -f "$STATE/$n.pid" ] && kill -KILL "$(cat "$STATE/$n.pid")" 2>/dev/null; done
	# Whatever else still runs on this test's files (it would hold the
	# TAP pipe open, and the harness would wait for ever).
	kill -KILL $(state_procs) 2>/dev/null
	[ "$MOUNTED" = 0 ] || in_ns umount "$STATE/results"
	[ -z "$R_PID" ] || wait "$R_PID" 2>/dev/null
	[ "$S3" = 0 ] || [ "$OUTAGE" != on ] || [ "$SHAM" = outage ] || "$S3_ENV" resume >/dev/null 2>&1
	[ -z "$NS_PID" ] || kill -KILL "$NS_PID" 2>/dev/null
	wait 2>/dev/null
	cleanup
}
trap cleanup_all EXIT

# The gateways run in a mount namespace of the test's own, so the
# outage's mount is theirs alone. A holder process keeps it while this
# test lives (and not for long after, even if the test is killed).
unshare -m --propagation private sh -c "while kill -0 $$; do sleep 2; done" </dev/null 2>/dev/null &
NS_PID=$!
ns_ready() {
	kill -0 "$NS_PID" 2>/dev/null &&
		[ "$(readlink "/proc/$NS_PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]
}
# Never mount before the holder is in its own namespace: that would be the host's.
wait_for 30 ns_ready || bail "no mount namespace of the test's own (unshare -m needs root)"
in_ns() { nsenter -t "$NS_PID" -m -- "$@"; }

for n in $NAMES; do
	kafka_conf "$STATE/$n.conf" "$STATE/$n" chaos 8 10
	sed -i "s/^instance_id = .*/instance_id = chaos-$n/" "$STATE/$n.conf"
	cat >> "$STATE/$n.conf" <<CONF
journal_dir = $STATE/launched
max_attempts = 20
sandbox = none
[storage]
# Few retries, so that the outage outlasts them: the uploads then wait
# for storage (upload_wait) and resume when it is back.
retries = 2
backoff_max_ms = 1000
CONF
done
case ${CHAOS_STORAGE:-auto} in
auto) ! "$S3_ENV" status >/dev/null 2>&1 || S3=1 ;;
s3) "$S3_ENV" status >/dev/null 2>&1 || bail "CHAOS_STORAGE=s3: no S3 server (tests/env/s3.sh start)"; S3=1 ;;
file) ;;
*) bail "CHAOS_STORAGE: auto, s3 or file" ;;
esac
if [ "$S3" = 1 ]; then
	eval "$("$S3_ENV" env | grep '^export S3_')"
	( umask 077; printf '%s\n' "$S3_SECRET_KEY" > "$STATE/s3.secret" )
	for n in $NAMES; do
		sed -i "s|^result_prefix = .*|result_prefix = s3://$S3_BUCKET/chaos-$run|" "$STATE/$n.conf"
		cat >> "$STATE/$n.conf" <<CONF
s3_endpoint = $S3_ENDPOINT
s3_region = $S3_REGION
s3_access_key = $S3_ACCESS_KEY
s3_secret_key_file = $STATE/s3.secret
connect_timeout_s = 3
CONF
	done
	UPLOAD_URL="s3://$S3_BUCKET/chaos-$run/"
else
	UPLOAD_URL="file://$STATE/results/"
fi
diag "results to $( [ $S3 = 1 ] && echo "s3://$S3_BUCKET (versitygw)" || echo "file:// (outage: read-only bind mount)")"
ctl() { "$PAIACTL" -c "$STATE/a.conf" "$@"; }
start() {
	echo "--- start $(date +%T.%N)" >> "$STATE/$1.log"
	# A simple command, not a function (which would run in a subshell
	# of its own): bash execs nsenter, which execs the gateway, so $! is
	# the gateway itself.
	nsenter -t "$NS_PID" -m -- "$GATEWAY" -c "$STATE/$1.conf" 2>>"$STATE/$1.log" &
	echo $! > "$STATE/$1.pid"
}
# state_procs: the pids of processes with this test's files in their
# command line.
state_procs() {
	local p c
	for p in /proc/[0-9]*; do
		c=$( { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null) || continue
		case $c in *"$STATE/"*) echo "${p#/proc/}" ;; esac
	done
}
alive() { kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

ctl topics --create --partitions 6,3,1 >/dev/null || bail "cannot create topics at $KAFKA"
mkdir -p "$STATE/programs" "$STATE/launched" "$STATE/results"
# The games count their launches in one file outside their task folders:
# no sandbox (it would keep them to their folder), and as root they run
# as runner.user, who must reach that file and the task folders.
chmod 711 "$STATE"
for n in $NAMES; do mkdir -m 711 "$STATE/$n/tasks"; done
: > "$STATE/launches"
chmod 666 "$STATE/launches"
for n in $NAMES; do start "$n"; done
for n in $NAMES; do wait_for 60 "$PAIACTL" -c "$STATE/$n.conf" status || bail "gateway $n did not start"; done
# Every launch of the user program is counted; games of varying length.
P=$(program counted.sh "echo \"\$PAIA_TASK_ID \$PAIA_ATTEMPT\" >> $STATE/launches
while read l; do sleep 0.0\$(( \$\$ % 5 )); echo STAY; done")

# ---- the waves ----
# Waves 1-3 go in two parts: the second part is submitted just before the
# wave's fault begins, so that fault always meets tasks in flight, however
# fast the gateways are.
Q=$((N / 4)) H=$((N / 8))
PART=(w1a w1b w2a w2b w3a w3b w4)
PART_SIZE=($H $((Q - H)) $H $((Q - H)) $H $((Q - H)) $((N - 3 * Q)))
parts=0 submitted=0
submit_part() {
	local p=${PART[$parts]} n=${PART_SIZE[$parts]}
	ctl submit --id "chaos-$p" --count "$n" --program "$P" \
		--params '{"frames":6,"video":false}' >/dev/null || bail "submitting chaos-$p failed"
	parts=$((parts + 1)) submitted=$((submitted + n))
	diag "chaos-$p: $n tasks submitted at $done_n results ($(( $(date +%s) - t0 )) s)"
}
# half_way: half of the part submitted last has results.
half_way() { [ "$done_n" -ge $((submitted - ${PART_SIZE[$((parts - 1))]} / 2)) ]; }

# progress: DONE (task ids with a result) and UPLOAD_ERRORS (results that
# ended "uploading ..."), never going down (a read during a broker
# restart may come back short).
done_n=0 upload_errors=0
progress() {
	local out d u
	out=$(ctl results --raw --timeout 10 2>/dev/null | python3 -c '
import json, sys
ids, up = set(), 0
for l in sys.stdin:
    try: r = json.loads(l)
    except ValueError: continue
    ids.add(r.get("task_id"))
    e = r.get("error") or {}
    up += str(e.get("message") or "").startswith("uploading")
print(len(ids), up)') || return 0
	read -r d u <<<"$out"
	[ "${d:-0}" -le "$done_n" ] || done_n=$d
	[ "${u:-0}" -le "$upload_errors" ] || upload_errors=$u
}

# ---- the faults ----
# Kills: SIGKILL, and it counts only when the gateway died of it.
kills=0 kill_tries=0 last_kill=$(date +%s)
kill_one() {
	local v pid st
	v=$(echo $NAMES | tr ' ' '\n' | shuf -n 1)
	pid=$(cat "$STATE/$v.pid")
	kill_tries=$((kill_tries + 1))
	[ "$SHAM" != kill ] || return 0
	# The gateway itself, not a shell around it (which would leave it running).
	case $(readlink "/proc/$pid/exe") in
	*/paia-gateway | "") ;;
	*) bail "$STATE/$v.pid names $(readlink "/proc/$pid/exe"), not the gateway" ;;
	esac
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	st=$?
	[ "$st" -ne 137 ] || kills=$((kills + 1))
	start "$v"
}

# Broker restarts, in the background; one counts when the broker came
# back under a new pid.
restarts=0 restart_tries=0 R_BEFORE=
broker_pid() { "$KAFKA_ENV" status 2>/dev/null | sed -n 's/.*running (pid \([0-9]*\)).*/\1/p'; }
restart_begin() {
	restart_tries=$((restart_tries + 1))
	R_BEFORE=$(broker_pid)
	diag "broker restart $restart_tries at $done_n results"
	if [ "$SHAM" = restart ]; then
		sleep 1 &
	else
		"$KAFKA_ENV" restart >> "$STATE/broker-restarts.log" 2>&1 &
	fi
	R_PID=$!
}
# restart_poll: 0 once the restart under way is over.
restart_poll() {
	local rc after
	[ -n "$R_PID" ] || return 0
	! kill -0 "$R_PID" 2>/dev/null || return 1
	wait "$R_PID"
	rc=$?
	R_PID=
	after=$(broker_pid)
	if [ "$rc" -eq 0 ] && [ -n "$after" ] && [ "$after" != "$R_BEFORE" ]; then
		restarts=$((restarts + 1))
	else
		diag "broker restart $restart_tries: rc=$rc, pid $R_BEFORE -> ${after:-none}"
		[ "$rc" -eq 0 ] || { sed 's/^/# /' "$STATE/broker-restarts.log"; bail "broker restart failed"; }
	fi
	return 0
}

# The storage outage: begun and ended by the driver, kills going on.
outage_t0=0 outage_t1=0 OUTAGE_SEEN=0
log_sizes() { for n in $NAMES; do stat -c %s "$STATE/$n.log"; done | tr '\n' ' '; }
# upload_failures_logged: "transfer failed" lines about results in the
# gateways' logs since the outage began.
upload_failures_logged() {
	local n off c=0 i=0
	local -a offs=($OUTAGE_OFFS)
	for n in $NAMES; do
		off=${offs[$i]} i=$((i + 1))
		c=$((c + $(tail -c +$((off + 1)) "$STATE/$n.log" |
			grep -F 'transfer failed' | grep -cF "$UPLOAD_URL")))
	done
	echo "$c"
}
outage_begin() {
	diag "storage outage at $done_n results"
	OUTAGE_OFFS=$(log_sizes) UPLOAD_ERRORS0=$upload_errors
	outage_t0=$(now_ms)
	if [ "$SHAM" = outage ]; then
		:
	elif [ "$S3" = 1 ]; then
		"$S3_ENV" pause >/dev/null || bail "cannot stop versitygw"
	else
		in_ns mount --bind -o ro "$STATE/results" "$STATE/results" ||
			bail "cannot mount $STATE/results read-only in the test's namespace"
		MOUNTED=1
		# Root included: the gateways cannot write there now...
		! in_ns mkdir "$STATE/results/.outage-probe" 2>/dev/null ||
			bail "$STATE/results is still writable in the gateways' namespace"
		# ...and the host does not see the mount.
		mkdir "$STATE/results/.outage-probe" && rmdir "$STATE/results/.outage-probe" ||
			bail "the outage's mount leaked out of the test's namespace"
	fi
	OUTAGE=on
}
# outage_poll: end the outage once it has lasted OUTAGE_S and an upload
# failed during it (OUTAGE_MAX_S at most).
outage_poll() {
	local ms=$(( $(now_ms) - outage_t0 ))
	OUTAGE_SEEN=$(( $(upload_failures_logged) + upload_errors - UPLOAD_ERRORS0 ))
	[ "$ms" -ge $((OUTAGE_S * 1000)) ] || return 1
	[ "$OUTAGE_SEEN" -gt 0 ] || [ "$ms" -ge $((OUTAGE_MAX_S * 1000)) ] || return 1
	if [ "$S3" = 1 ] && [ "$SHAM" != outage ]; then
		"$S3_ENV" resume >/dev/null || bail "versitygw did not come back"
	elif [ "$MOUNTED" = 1 ]; then
		in_ns umount "$STATE/results" || bail "cannot unmount the outage's read-only $STATE/results"
		MOUNTED=0
	fi
	outage_t1=$(now_ms)
	OUTAGE=over
	diag "storage outage over after $(( (outage_t1 - outage_t0) / 1000 )) s at $done_n results ($OUTAGE_SEEN upload failures seen)"
}

# ---- the driver ----
# plan_step: the next step of the plan once its condition holds.
stage=0 kills_before_last=0
plan_step() {
	case $stage in
	0) submit_part ;;
	1) half_way && { submit_part; restart_begin; } ;;
	2) restart_poll && submit_part ;;
	3) half_way && { submit_part; outage_begin; } ;;
	4) outage_poll && submit_part ;;
	5) half_way && { submit_part; restart_begin; } ;;
	# Every fault is behind us: the last wave.
	6) restart_poll && [ "$kill_tries" -ge 3 ] && { kills_before_last=$kills; submit_part; } ;;
	*) return 1 ;;
	esac && stage=$((stage + 1))
}
# The malformed tasks first: 20 submissions take seconds.
for i in $(seq 1 $BAD); do ctl submit --raw "chaos-malformed-$i" >/dev/null; done
while :; do
	plan_step
	progress
	[ "$done_n" -ge "$N" ] && break
	[ $(( $(date +%s) - t0 )) -lt "$LIMIT_S" ] ||
		{ diag "timed out with $done_n of $N results (plan stage $stage, outage $OUTAGE)"; break; }
	now=$(date +%s)
	if [ $((now - last_kill)) -ge "$KILL_EVERY" ]; then
		kill_one
		last_kill=$now
	fi
	for n in $NAMES; do alive "$n" || start "$n"; done
	sleep 0.5
done
while ! restart_poll; do sleep 0.5; done
diag "driver: $kills of $kill_tries kills, $restarts of $restart_tries broker restarts, outage $OUTAGE, $parts of ${#PART[@]} parts submitted, $(( $(date +%s) - t0 )) s"
for n in $NAMES; do kill -TERM "$(cat "$STATE/$n.pid")" 2>/dev/null; done
for n in $NAMES; do wait "$(cat "$STATE/$n.pid")" 2>/dev/null; done
for p in $(state_procs); do diag "still running: $p $( { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null)"; done
left=$(state_procs | wc -w)

ctl results --raw > "$STATE/results.jsonl"
ctl results --dlq --raw > "$STATE/dlq.jsonl"
python3 - "$STATE" "$BAD" "$outage_t0" "$outage_t1" "$UPLOAD_URL" "${PART[*]}" "${PART_SIZE[@]}" \
	> "$STATE/verdict" <<'PY'
import collections, datetime, glob, json, re, sys
state, bad, o0, o1, upload_url = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
parts, sizes = sys.argv[6].split(), [int(s) for s in sys.argv[7:]]
rs = [json.loads(l) for l in open(state + "/results.jsonl")]
ids = collections.Counter(r["task_id"] for r in rs if r["task_id"].startswith("chaos-"))
want = {f"chaos-{p}-{i}" for p, n in zip(parts, sizes) for i in range(1, n + 1)}
lost = want - set(ids)
dup = [k for k, v in ids.items() if v > 1]
status = collections.Counter(r["status"] for r in rs)
attempts = collections.Counter(r["attempt"] for r in rs)
dl = [json.loads(l) for l in open(state + "/dlq.jsonl")]
orig = collections.Counter(d.get("original") for d in dl)
dlq_lost = [i for i in range(1, bad + 1) if orig[f"chaos-malformed-{i}"] == 0]
dlq_dup = [k for k, v in orig.items() if v > 1]
launches = collections.Counter(tuple(l.split()) for l in open(state + "/launches") if l.strip())
twice = [k for k, v in launches.items() if v > 1]

# The outage window [o0, o1] (epoch ms; a second of slack for clocks read
# apart): upload failures logged in it, and results that ended
# "uploading ..." reported in it.
def ms(ts):
    t = datetime.datetime.strptime(ts.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
def inside(t):
    return o0 > 0 and o1 > 0 and o0 - 1000 <= t <= o1 + 1000
logged = 0
for f in glob.glob(state + "/[abc].log"):
    for l in open(f, errors="replace"):
        m = re.match(r"ts=(\S+) ", l)
        if m and "transfer failed" in l and upload_url in l and inside(ms(m.group(1))):
            logged += 1
ended = sum(1 for r in rs if str((r.get("error") or {}).get("message") or "").startswith("uploading")
            and inside(ms(r["timings"]["reported"])))
# Uploads that waited for storage during the outage, by task; results
# uploaded from disk after a restart.
waited = set()
for f in glob.glob(state + "/[abc].log"):
    for l in open(f, errors="replace"):
        m = re.match(r"ts=(\S+) .*msg=\"uploads wait for storage\" task=(\S+)", l)
        if m and inside(ms(m.group(1))):
            waited.add(m.group(2))
recovered = sum(1 for r in rs if r.get("recovered"))
chaos = [r for r in rs if r["task_id"].startswith("chaos-")]
not_succeeded = sum(1 for r in chaos if r["status"] != "succeeded")

print(f"results={len(rs)} lost={len(lost)} duplicated={len(dup)} statuses={dict(status)} attempts={dict(attempts)}")
print(f"dead_letters={len(dl)} lost={len(dlq_lost)} duplicated={len(dlq_dup)}")
print(f"launches={sum(launches.values())} same_attempt_twice={len(twice)}")
print(f"outage_s={(o1 - o0) / 1000 if o0 and o1 else 0:.1f} upload_failures_logged={logged} results_ended_uploading={ended}")
print(f"succeeded={len(chaos) - not_succeeded} not_succeeded={not_succeeded} uploads_waited={len(waited)} recovered_after_restart={recovered}")
for k in sorted(lost)[:5]: print("lost", k)
def where(r):
    s = r.get("source") or {}
    return f'{r.get("gateway")} p{s.get("partition")}@{s.get("offset")} attempt {r["attempt"]} reported {r["timings"]["reported"]}'
for k in dup[:5]: print("duplicated", k, "; ".join(where(r) for r in rs if r["task_id"] == k))
for k in twice[:5]: print("launched twice", *k)
# Why results did not succeed: a count and an example for each status and
# error (paths and ids cut off).
why = collections.defaultdict(list)
for r in rs:
    if r["status"] != "succeeded":
        m = str((r.get("error") or {}).get("message") or "")
        why[(r["status"], re.sub(r"(/|file:|s3:|chaos-)\S*", "*", m)[:100])].append(r)
for (st, w), l in sorted(why.items(), key=lambda kv: -len(kv[1])):
    print(f"not succeeded: {len(l)} {st}, e.g. {l[0]['task_id']} attempt {l[0]['attempt']}: {(l[0].get('error') or {}).get('message')}")
ok = not lost and not dup and not dlq_lost and not dlq_dup and not twice and not not_succeeded
sys.exit(0 if ok else 1)
PY
rc=$?
sed 's/^/# /' "$STATE/verdict"
line() { sed -n "$1p" "$STATE/verdict"; }
outage_failures=$(line 4 | sed -n 's/.*upload_failures_logged=\([0-9]*\) results_ended_uploading=\([0-9]*\).*/\1 + \2/p')
check "every task has a result ($(line 1 | cut -d' ' -f1-3))" grep -q ' lost=0 ' <(line 1)
check "no task has two results" grep -q ' duplicated=0 ' <(line 1)
check "each malformed task is in the dead-letter topic exactly once" grep -q 'lost=0 duplicated=0' <(line 2)
check "no game ran twice for the same attempt" grep -q ' same_attempt_twice=0' <(line 3)
check "gateways killed -9 mid-run ($kills of $kill_tries died of SIGKILL, $kills_before_last before the last wave; 3 or more)" \
	test "$kills_before_last" -ge 3
check "the broker restarted twice ($restarts of $restart_tries came back under a new pid)" \
	test "$restarts" -eq 2
check "uploads failed during the storage outage ($(line 4))" test "$(( ${outage_failures:-0} ))" -gt 0
check "every task succeeded ($(line 5 | cut -d' ' -f1-2))" grep -q ' not_succeeded=0 ' <(line 5)
check "the outage's uploads waited for storage, none ended the task ($(line 5 | cut -d' ' -f3-))" \
	sh -c 'printf "%s" "$0" | grep -q " uploads_waited=[1-9]" &&
	       printf "%s" "$1" | grep -q " results_ended_uploading=0$"' \
	"$(line 5)" "$(line 4)"
check "the last wave went in after every fault ($parts of ${#PART[@]} parts submitted)" test "$stage" -eq 7
check "no gateway is left running (every kill hit the gateway itself)" test "$left" -eq 0
check "the verdict as a whole (rc=$rc)" test "$rc" -eq 0
[ "$tap_failed" -eq 0 ] || for n in $NAMES; do GW_LOG=$STATE/$n.log; gw_dump_log; done
tap_done
