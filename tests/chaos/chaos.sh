#!/bin/bash
# Exactly once under chaos, on a real broker (tests/env/kafka.sh start):
# CHAOS_TASKS tasks (default 1000) and 20 malformed ones, three gateway
# instances in one consumer group. A driver kills -9 a random instance
# every few seconds and restarts it, restarts the broker twice, and makes
# storage fail for 10 s: with tests/env/s3.sh running, results go to
# s3:// and versitygw is killed for 10 s (then restarted on its data);
# without it, the file:// results folder is replaced by a file for 10 s.
#
# At the end a read_committed reader must find exactly one result per
# task id, each malformed task exactly once in the dead-letter topic, and
# no game run twice for the same attempt (every launch of a user program
# appends "task attempt" to a shared file). It prints those counts.
#
# CHAOS_TASKS=N for a longer soak; CHAOS_KILL_EVERY=S (default 4).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../kafka/lib.sh"

N=${CHAOS_TASKS:-1000}
BAD=20
KILL_EVERY=${CHAOS_KILL_EVERY:-4}
STATE=$(mktemp -d "${TMPDIR:-/tmp}/paia-chaos.XXXXXX")
STATES="$STATE"
GW_LOG=$STATE/a.log
NAMES="a b c"
t0=$(date +%s)

for n in $NAMES; do
	kafka_conf "$STATE/$n.conf" "$STATE/$n" chaos 8 10
	sed -i "s/^instance_id = .*/instance_id = chaos-$n/" "$STATE/$n.conf"
	cat >> "$STATE/$n.conf" <<CONF
journal_dir = $STATE/launched
max_attempts = 20
[storage]
retries = 8
backoff_max_ms = 2000
CONF
done
S3=0
if "$SRCDIR/tests/env/s3.sh" status >/dev/null 2>&1; then
	S3=1
	eval "$("$SRCDIR/tests/env/s3.sh" env | grep '^export S3_')"
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
fi
diag "results to $( [ $S3 = 1 ] && echo "s3://$S3_BUCKET (versitygw)" || echo file://)"
ctl() { "$PAIACTL" -c "$STATE/a.conf" "$@"; }
start() {
	echo "--- start $(date +%T.%N)" >> "$STATE/$1.log"
	"$GATEWAY" -c "$STATE/$1.conf" 2>>"$STATE/$1.log" &
	echo $! > "$STATE/$1.pid"
}
alive() { kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }
cleanup_all() {
	for n in $NAMES; do [ -f "$STATE/$n.pid" ] && kill -KILL "$(cat "$STATE/$n.pid")" 2>/dev/null; done
	wait 2>/dev/null
	cleanup
}
trap cleanup_all EXIT

ctl topics --create --partitions 6,3,1 >/dev/null || bail "cannot create topics at $KAFKA"
mkdir -p "$STATE/programs" "$STATE/launched" "$STATE/results"
for n in $NAMES; do start "$n"; done
for n in $NAMES; do wait_for 60 "$PAIACTL" -c "$STATE/$n.conf" status || bail "gateway $n did not start"; done
# Every launch of the user program is counted; games of varying length.
P=$(program counted.sh "echo \"\$PAIA_TASK_ID \$PAIA_ATTEMPT\" >> $STATE/launches
while read l; do sleep 0.0\$(( \$\$ % 5 )); echo STAY; done")
ctl submit --id chaos --count "$N" --program "$P" --params '{"frames":6,"video":false}' >/dev/null ||
	bail "submit failed"
for i in $(seq 1 $BAD); do ctl submit --raw "chaos-malformed-$i" >/dev/null; done

# The driver: kills, broker restarts and a storage outage, until done.
kills=0 restarts=0 outage=0 last_kill=$(date +%s)
while :; do
	done_n=$(distinct)
	[ "$done_n" -ge "$N" ] && break
	[ $(( $(date +%s) - t0 )) -lt 480 ] || { diag "timed out with $done_n of $N results"; break; }
	now=$(date +%s)
	if [ $((now - last_kill)) -ge "$KILL_EVERY" ]; then
		v=$(echo $NAMES | tr ' ' '\n' | shuf -n 1)
		kill -KILL "$(cat "$STATE/$v.pid")" 2>/dev/null && kills=$((kills + 1))
		wait "$(cat "$STATE/$v.pid")" 2>/dev/null
		start "$v"
		last_kill=$now
	fi
	for n in $NAMES; do alive "$n" || start "$n"; done
	if [ "$restarts" -lt 2 ] && [ "$done_n" -ge $(( N * (restarts == 0 ? 25 : 60) / 100 )) ]; then
		diag "broker restart $((restarts + 1)) at $done_n results"
		"$SRCDIR/tests/env/kafka.sh" restart >/dev/null || bail "broker restart failed"
		restarts=$((restarts + 1))
	fi
	if [ "$outage" -eq 0 ] && [ "$done_n" -ge $(( N * 40 / 100 )) ]; then
		diag "storage outage for 10 s at $done_n results"
		if [ "$S3" = 1 ]; then
			"$SRCDIR/tests/env/s3.sh" pause >/dev/null
			sleep 10
			"$SRCDIR/tests/env/s3.sh" resume >/dev/null || bail "versitygw did not come back"
		else
			mv "$STATE/results" "$STATE/results.away" && : > "$STATE/results"
			sleep 10
			rm -f "$STATE/results" && mv "$STATE/results.away" "$STATE/results"
		fi
		outage=1
	fi
	sleep 0.5
done
diag "driver: $kills kills, $restarts broker restarts, $outage storage outage, $(( $(date +%s) - t0 )) s"
for n in $NAMES; do kill -TERM "$(cat "$STATE/$n.pid")" 2>/dev/null; done
for n in $NAMES; do wait "$(cat "$STATE/$n.pid")" 2>/dev/null; done

ctl results --raw > "$STATE/results.jsonl"
ctl results --dlq --raw > "$STATE/dlq.jsonl"
python3 - "$N" "$BAD" "$STATE" > "$STATE/verdict" <<'PY'
import collections, json, sys
n, bad, state = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rs = [json.loads(l) for l in open(state + "/results.jsonl")]
ids = collections.Counter(r["task_id"] for r in rs if r["task_id"].startswith("chaos-"))
want = {f"chaos-{i}" for i in range(1, n + 1)}
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
print(f"results={len(rs)} lost={len(lost)} duplicated={len(dup)} statuses={dict(status)} attempts={dict(attempts)}")
print(f"dead_letters={len(dl)} lost={len(dlq_lost)} duplicated={len(dlq_dup)}")
print(f"launches={sum(launches.values())} same_attempt_twice={len(twice)}")
for k in sorted(lost)[:5]: print("lost", k)
for k in dup[:5]: print("duplicated", k)
for k in twice[:5]: print("launched twice", *k)
for r in rs:
    if r["status"] != "succeeded":
        print("not succeeded", r["task_id"], r["attempt"], r["status"], r["error"]); break
ok = not lost and not dup and not dlq_lost and not dlq_dup and not twice
sys.exit(0 if ok else 1)
PY
rc=$?
sed 's/^/# /' "$STATE/verdict"
line() { sed -n "$1p" "$STATE/verdict"; }
check "every task has a result ($(line 1 | cut -d' ' -f1-3))" grep -q ' lost=0 ' <(line 1)
check "no task has two results" grep -q ' duplicated=0 ' <(line 1)
check "each malformed task is in the dead-letter topic exactly once" grep -q 'lost=0 duplicated=0' <(line 2)
check "no game ran twice for the same attempt" grep -q ' same_attempt_twice=0' <(line 3)
check "the driver did its damage ($kills kills, $restarts broker restarts)" test "$kills" -ge 3 -a "$restarts" -eq 2
check "the verdict as a whole (rc=$rc)" test "$rc" -eq 0
[ "$tap_failed" -eq 0 ] || for n in $NAMES; do GW_LOG=$STATE/$n.log; gw_dump_log; done
tap_done
