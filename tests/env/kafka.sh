#!/bin/bash
# A real single-node Apache Kafka (KRaft, broker+controller) for tests,
# run from the Maven Central jars, without Docker.
#
# usage: tests/env/kafka.sh start|stop|restart|freeze|thaw|status|install
#
#   install  fetch the broker's jars once into $PAIA_TESTENV_CACHE
#            (idempotent; apt-installs maven and Java 17 when missing and
#            run as root)
#   start    install if needed, format a fresh cluster in $KAFKA_DIR, start
#            the broker in the background and wait until it is ready;
#            a no-op when it already runs
#   stop     SIGTERM (SIGKILL after 30 s), then remove the data, so that
#            every start is a fresh cluster
#   restart  stop and start keeping the data (a broker restart under load)
#   freeze   SIGSTOP the broker: connections hang (unreachable mid-commit)
#   thaw     SIGCONT it
#   status   exit 0 when the broker runs and its port accepts connections
#
# environment:
#   PAIA_TESTENV_CACHE  jar cache (default $HOME/.cache/paia-testenv);
#                       jars in $PAIA_TESTENV_CACHE/kafka-<version>/libs,
#                       Maven's local repository in .../m2
#   KAFKA_DIR           data, config, server.log, kafka.pid
#                       (default ${TMPDIR:-/tmp}/paia-kafka)
#   KAFKA_PORT          PLAINTEXT listener (default 19092); the controller
#                       listens on KAFKA_PORT+1; both on 127.0.0.1 only
#   KAFKA_VERSION       org.apache.kafka:kafka_2.13 version (default 4.1.1)
#   KAFKA_START_TIMEOUT seconds to wait for readiness, counted from when the
#                       broker process starts, after any install (default 90)
#   JAVA_HOME           a Java >= 17 to use instead of the one on PATH
#
# Clients: bootstrap.servers=127.0.0.1:$KAFKA_PORT. Topics are not created
# on demand (auto.create.topics.enable=false); new topics get 3 partitions.
set -eu

KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
CACHE=${PAIA_TESTENV_CACHE:-${HOME:-/tmp}/.cache/paia-testenv}
KAFKA_DIR=${KAFKA_DIR:-${TMPDIR:-/tmp}/paia-kafka}
KAFKA_PORT=${KAFKA_PORT:-19092}
CTRL_PORT=$((KAFKA_PORT + 1))
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}

HERE=$(cd "$(dirname "$0")" && pwd)
POM=$HERE/kafka-pom.xml
INST=$CACHE/kafka-$KAFKA_VERSION
LIBS=$INST/libs
STAMP=$INST/.installed
PIDFILE=$KAFKA_DIR/kafka.pid
LOG=$KAFKA_DIR/server.log
DATA=$KAFKA_DIR/data

# The broker logs this once it serves requests, e.g.
# "[KafkaRaftServer nodeId=1] Kafka Server started (kafka.server.KafkaRaftServer)"
READY_RE='\[KafkaRaftServer nodeId=1\] Kafka Server started'

JAVA=

ENV_NAME=kafka
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

# ---------------------------------------------------------------- helpers --

# our_pid: print the broker's pid when the pid file names a live kafka.Kafka.
our_pid() { pid_of "$PIDFILE" 'kafka\.Kafka '; }

java_major() {
	"$1" -version 2>&1 | sed -n '1s/.*version "\([0-9][0-9]*\)[."].*/\1/p'
}

# pick_java: set JAVA to a Java >= 17, installing one when allowed.
pick_java() {
	local c m
	[ -n "$JAVA" ] && return 0
	for c in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" \
		/usr/lib/jvm/java-17-openjdk-*/bin/java; do
		[ -n "$c" ] && [ -x "$c" ] || continue
		m=$(java_major "$c")
		if [ -n "$m" ] && [ "$m" -ge 17 ]; then JAVA=$c; return 0; fi
	done
	apt_install openjdk-17-jre-headless
	for c in "$(command -v java || true)" /usr/lib/jvm/java-17-openjdk-*/bin/java; do
		[ -n "$c" ] && [ -x "$c" ] || continue
		m=$(java_major "$c")
		if [ -n "$m" ] && [ "$m" -ge 17 ]; then JAVA=$c; return 0; fi
	done
	die "no Java 17 or later found"
}

# ---------------------------------------------------------------- install --

stamp_text() {
	echo "kafka_2.13 $KAFKA_VERSION pom $(sha256sum "$POM" | cut -c1-64)"
}

installed() {
	[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_text)" ]
}

# has_class JAR PATH: the jar's directory lists PATH (names are stored
# uncompressed in a zip, so no unzip is needed).
has_class() { LC_ALL=C grep -qaF "$2" "$1"; }

do_install() {
	local t0 tmp jar mvn_pid
	[ -f "$POM" ] || die "$POM is missing"
	installed && return 0
	mkdir -p "$CACHE"
	# One installer at a time; released before the broker starts.
	exec 9>"$CACHE/.kafka-$KAFKA_VERSION.lock"
	if command -v flock >/dev/null; then flock 9; fi
	if installed; then exec 9>&-; return 0; fi

	# Left by an interrupted install (we hold the lock): never complete.
	rm -rf "$CACHE/.kafka-$KAFKA_VERSION.tmp."*
	t0=$(date +%s)
	command -v mvn >/dev/null || apt_install maven
	pick_java
	# Maven runs on the Java we picked, whatever PATH says.
	export JAVA_HOME=${JAVA%/bin/java}
	say "installing Kafka $KAFKA_VERSION jars into $INST"
	tmp=$(mktemp -d "$CACHE/.kafka-$KAFKA_VERSION.tmp.XXXXXX")
	# Interrupted: stop Maven too and drop the half-filled folder.
	mvn_pid=
	trap '[ -z "$mvn_pid" ] || kill -TERM "$mvn_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
	trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
	cp "$POM" "$tmp/pom.xml"
	(cd "$tmp" && exec mvn -B -q -Dstyle.color=never -f pom.xml \
		-Dmaven.repo.local="$CACHE/m2" \
		-Dkafka.version="$KAFKA_VERSION" \
		dependency:copy-dependencies -DincludeScope=runtime \
		-DoutputDirectory="$tmp/libs") >"$tmp/mvn.log" 2>&1 &
	mvn_pid=$!
	if ! wait "$mvn_pid"; then
		mvn_pid=
		tail -n 40 "$tmp/mvn.log" >&2
		die "mvn dependency:copy-dependencies failed"
	fi
	mvn_pid=
	jar=$(ls "$tmp/libs/kafka_2.13-$KAFKA_VERSION.jar" 2>/dev/null) ||
		die "kafka_2.13-$KAFKA_VERSION.jar was not fetched"
	has_class "$jar" kafka/Kafka.class || die "kafka.Kafka is not in $jar"
	has_class "$jar" kafka/tools/StorageTool.class ||
		die "kafka.tools.StorageTool is not in $jar"
	ls "$tmp"/libs/log4j-core-*.jar "$tmp"/libs/log4j-slf4j2-impl-*.jar >/dev/null 2>&1 ||
		die "the log4j jars were not fetched"
	ls "$tmp"/libs/slf4j-api-2.*.jar >/dev/null 2>&1 ||
		die "slf4j-api 2.x was not fetched: the broker would log nothing"
	rm -rf "$tmp/target"
	stamp_text >"$tmp/.installed"
	# Only a complete folder, stamp included, ever gets the final name.
	rm -rf "$INST"
	mv -T "$tmp" "$INST"
	trap - EXIT HUP INT TERM
	exec 9>&-
	say "installed Kafka $KAFKA_VERSION: $(ls "$LIBS" | wc -l) jars," \
		"$(du -sm "$LIBS" | cut -f1) MB, $(($(date +%s) - t0)) s"
}

# ------------------------------------------------------------------ start --

write_config() {
	cat >"$KAFKA_DIR/server.properties" <<EOF
# written by tests/env/kafka.sh: a single-node KRaft cluster for tests
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CTRL_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CTRL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CTRL_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA

num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=3
group.initial.rebalance.delay.ms=0
offset.metadata.max.bytes=4096

num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
EOF
	cat >"$KAFKA_DIR/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
EOF
}

# A Kafka cluster id: 16 random bytes, URL-safe base64 without padding,
# not starting with '-' (as org.apache.kafka.common.Uuid.randomUuid).
cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
		case $id in -* | AAAAAAAAAAAAAAAAAAAAA[AQ]) ;; *) echo "$id"; return ;; esac
	done
}

fail_start() {
	local pid
	echo "kafka: $*" >&2
	echo "---- last 40 lines of $LOG" >&2
	tail -n 40 "$LOG" >&2 2>/dev/null || true
	echo "----" >&2
	pid=$(cat "$PIDFILE" 2>/dev/null || true)
	if [ -n "$pid" ] && alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
	rm -f "$PIDFILE"
	exit 1
}

do_start() {
	local pid t_start t0 cid l4j cp deadline ver
	if pid=$(our_pid); then
		say "already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
		return 0
	fi
	t_start=$(date +%s)
	do_install
	pick_java
	for p in "$KAFKA_PORT" "$CTRL_PORT"; do
		port_open "$p" && die "127.0.0.1:$p is already in use by another process"
	done

	rm -f "$PIDFILE"
	l4j=-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.properties
	cp="$LIBS/*"
	mkdir -p "$KAFKA_DIR"
	: >"$LOG"
	# restart keeps the data: same cluster, topics, offsets, transactions.
	if [ "${1:-}" != keep ] || [ ! -f "$DATA/meta.properties" ]; then
		rm -rf "$DATA"
		mkdir -p "$KAFKA_DIR" "$DATA"
		write_config
		cid=$(cluster_id)
		"$JAVA" -Xmx256m "$l4j" -cp "$cp" kafka.tools.StorageTool format \
			--standalone -t "$cid" -c "$KAFKA_DIR/server.properties" >>"$LOG" 2>&1 ||
			fail_start "formatting $DATA failed"
	fi

	# setsid: the broker outlives this script and the caller's signals.
	setsid "$JAVA" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		-XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
		-XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
		"$l4j" -Dkafka.logs.dir="$KAFKA_DIR/logs" \
		-cp "$cp" kafka.Kafka "$KAFKA_DIR/server.properties" \
		>>"$LOG" 2>&1 </dev/null 9>&- &
	pid=$!
	echo "$pid" >"$PIDFILE"

	# The deadline counts from here: a cold install above takes minutes.
	t0=$(date +%s)
	deadline=$((t0 + START_TIMEOUT))
	while :; do
		alive "$pid" || fail_start "the broker exited during startup"
		! grep -q 'no-operation (NOP) logger' "$LOG" ||
			fail_start "no SLF4J backend: the broker logs nothing (check the jars)"
		if grep -q "$READY_RE" "$LOG" && port_open "$KAFKA_PORT"; then break; fi
		[ "$(date +%s)" -lt "$deadline" ] ||
			fail_start "not ready after $START_TIMEOUT s"
		sleep 0.5
	done
	ver=$(sed -n 's/.*Kafka version: \([^ ]*\).*/\1/p' "$LOG" | head -n 1)
	say "ready on 127.0.0.1:$KAFKA_PORT (Kafka ${ver:-$KAFKA_VERSION};" \
		"ready $(($(date +%s) - t0)) s after the broker started, $(($(date +%s) - t_start)) s in all)"
}

# ------------------------------------------------------------ stop/status --

do_stop() {
	local pid
	if pid=$(our_pid); then
		stop_pid "$pid" 30 TERM broker
		say "stopped (pid $pid)"
	else
		say "not running"
	fi
	rm -f "$PIDFILE"
	[ "${1:-}" = keep ] || rm -rf "$DATA"
}

do_status() {
	local pid
	if pid=$(our_pid) && port_open "$KAFKA_PORT"; then
		say "running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
		return 0
	fi
	say "not running on 127.0.0.1:$KAFKA_PORT"
	return 1
}

case ${1:-} in
install) do_install; installed && say "Kafka $KAFKA_VERSION installed in $INST" ;;
start) do_start ;;
stop) do_stop ;;
restart) do_stop keep; do_start keep ;;	# a broker restart: the data stays
# freeze/thaw: SIGSTOP/SIGCONT, so clients' connections hang instead of
# failing (a broker unreachable mid-commit).
freeze) pid=$(our_pid) || die "not running"; kill -STOP "$pid" ;;
thaw) pid=$(our_pid) || die "not running"; kill -CONT "$pid" ;;
status) do_status ;;
*) echo "usage: $0 start|stop|restart|freeze|thaw|status|install" >&2; exit 2 ;;
esac
