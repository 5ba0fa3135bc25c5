#!/usr/bin/python3
"""creator.py: the Python "creator" PAIA grew from, as the peer the gateway
is measured against (bench/versus-peer).

The seed's flow (the talk in seed/): Kafka -> Creator -> game -> Creator ->
cloud storage -> Kafka. Done the way a competent Python engineer builds it:

* one confluent-kafka consumer (group, no auto commit, read_committed) and
  one transactional producer; one transaction per result, which carries the
  result and, with send_offsets_to_transaction, the partition's offset;
* a thread pool of games (max_inflight threads): each thread prepares the
  task folder, downloads the program, runs the game, uploads the artifacts
  and reports its result in its own transaction (the producer's
  transactions are serialised by a lock);
* the task folder, game command, environment and artifacts of the
  gateway's local runner (docs/messages.md sections 3 and 8), so both
  sides do the same work; or, with --runner k8s, a pod per task (the
  gateway's template, deploy/game-pod.json) followed through the python
  kubernetes client's watch (one watch thread for all pods, list then
  watch from the list's resourceVersion, relist on 410);
* back-pressure without pausing: the main thread takes no more messages
  while every slot is busy (librdkafka keeps what it prefetched, bounded
  by queued.max.messages.kbytes); only a wait longer than a third of
  max.poll.interval.ms pauses the assignment, to stay in the group;
* out-of-order completion: the committed offset of a partition is its
  lowest offset still in progress (tasks above it that finished run again
  after a crash: at-least-once for those, as the seed had it);
* malformed tasks go to the dead-letter topic in a transaction with their
  offset.

It does not: retry infra failures as a new attempt, keep commit metadata
of what finished above the commit point, serve a control socket, health
or metrics, or sandbox the game (runner.sandbox = none is its like).

    creator.py --bootstrap HOST:PORT --state-dir DIR --file-root DIR \\
        --result-prefix file:///DIR/results --command "paia-demo-game" \\
        [--max-inflight 32] [--group paia-gateway] [-X kafka.key=value ...]

Runs until SIGTERM or SIGINT; then finishes the games in flight and
reports them.
"""

import argparse
import collections
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

log = logging.getLogger("creator")

ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,62}$")
NAME_RE = re.compile(r"[^A-Za-z0-9._-]")
RESULT_JSON_MAX = 1024 * 1024
# librdkafka settings (-X) that only one of the two clients takes.
CONSUMER_ONLY = ("session.", "heartbeat.", "max.poll.", "fetch.", "queued.", "isolation.",
                 "auto.offset.", "partition.assignment.", "group.", "enable.partition.eof")
PRODUCER_ONLY = ("linger.ms", "acks", "compression.", "batch.", "queue.buffering.",
                 "transaction.timeout.ms")


def now_ms():
    return int(time.time() * 1000)


def rfc3339(ms):
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03dZ" % (ms % 1000)


def url_basename(url):
    """The file name a URL is stored under (docs/messages.md section 2)."""
    path = urllib.parse.urlsplit(url).path
    name = NAME_RE.sub("_", path.rsplit("/", 1)[-1][:128])
    if name.startswith("."):
        name = "_" + name[1:]
    return name or "program"


class TaskError(Exception):
    """An outcome without a game result: status, class, message."""

    def __init__(self, status, eclass, message):
        super().__init__(message)
        self.status, self.eclass, self.message = status, eclass, message


class Storage:
    """file:// (below --file-root) and http(s):// downloads and uploads."""

    def __init__(self, file_root):
        self.file_root = os.path.realpath(file_root) if file_root else None

    def _local(self, url):
        if self.file_root is None:
            raise TaskError("error", "invalid", "file:// URLs are refused (no --file-root)")
        path = urllib.parse.urlsplit(url).path
        real = os.path.realpath(path)
        if real != self.file_root and not real.startswith(self.file_root + "/"):
            raise TaskError("error", "invalid",
                            "file URL is outside the file root (%s)" % self.file_root)
        return real

    def get(self, url, dest):
        if url.startswith("file://"):
            try:
                shutil.copyfile(self._local(url), dest)
            except OSError as e:
                raise TaskError("error", "invalid", "%s: %s" % (url, e.strerror))
        elif url.startswith(("http://", "https://")):
            try:
                with urllib.request.urlopen(url, timeout=30) as r, open(dest, "wb") as f:
                    shutil.copyfileobj(r, f, 1 << 16)
            except OSError as e:
                raise TaskError("error", "infra", "%s: %s" % (url, e))
        else:
            raise TaskError("error", "invalid", "unsupported URL scheme")

    def put(self, path, url, ctype):
        if url.startswith("file://"):
            dest = self._local(url)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(path, dest)
        else:
            with open(path, "rb") as f:
                req = urllib.request.Request(url, data=f, method="PUT",
                                             headers={"Content-Type": ctype,
                                                      "Content-Length": str(os.fstat(f.fileno()).st_size)})
                urllib.request.urlopen(req, timeout=60).close()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


class LocalRunner:
    """The game as a child process in the task folder (the gateway's local runner)."""

    def __init__(self, command, kill_grace_s):
        self.argv = command.split()
        self.kill_grace_s = kill_grace_s
        self.path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")

    def run(self, task, workdir, timeout_s, msg):
        """Returns (status, class, message, started_ms, finished_ms)."""
        env = {
            "PATH": self.path, "HOME": workdir, "LANG": "C.UTF-8",
            "PAIA_TASK_ID": task["task_id"], "PAIA_ATTEMPT": str(task["attempt"]),
            "PAIA_GAME": task["game"], "PAIA_WORKSPACE": workdir,
            "PAIA_ENTRY": task["entry"], "PAIA_PARAMS": task["params"],
        }
        started = now_ms()
        with open(os.path.join(workdir, "output", "log.txt"), "ab") as logf:
            try:
                p = subprocess.Popen(self.argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=subprocess.STDOUT, process_group=0)
            except OSError as e:
                return ("error", "infra", "%s: %s" % (self.argv[0], e.strerror), None, now_ms())
        try:
            code = p.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._stop(p)
            return ("timeout", "user", "exceeded its timeout of %d s" % timeout_s, started, now_ms())
        finally:
            # Whatever the game left in its group goes too.
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
        finished = now_ms()
        if code == 0:
            return ("succeeded", None, None, started, finished)
        if code < 0:
            return ("failed", "user", "game killed by signal %d" % -code, started, finished)
        return ("failed", "user", "game exited with code %d" % code, started, finished)

    def _stop(self, p):
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=self.kill_grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        except OSError:
            pass


class PodWatch(threading.Thread):
    """One watch on the game pods (label paia.io/managed-by); waiters by pod name."""

    def __init__(self, core, namespace, selector):
        super().__init__(name="pod-watch", daemon=True)
        self.core, self.ns, self.selector = core, namespace, selector
        self.lock = threading.Lock()
        self.waiters = {}	# pod name -> [threading.Event, last pod seen, deleted]
        self.synced = threading.Event()

    def wait_for(self, name):
        with self.lock:
            return self.waiters.setdefault(name, [threading.Event(), None, False])

    def forget(self, name):
        with self.lock:
            self.waiters.pop(name, None)

    def _see(self, pod, deleted=False):
        phase = pod.status.phase if pod.status is not None else None
        with self.lock:
            w = self.waiters.get(pod.metadata.name)
            if w is not None:
                w[1], w[2] = pod, deleted
                if deleted or phase in ("Succeeded", "Failed"):
                    w[0].set()

    def run(self):
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException
        rv = None
        while True:
            try:
                if rv is None:
                    lst = self.core.list_namespaced_pod(self.ns, label_selector=self.selector)
                    for pod in lst.items:
                        self._see(pod)
                    rv = lst.metadata.resource_version
                    self.synced.set()
                w = watch.Watch()
                for ev in w.stream(self.core.list_namespaced_pod, self.ns,
                                   label_selector=self.selector, resource_version=rv,
                                   allow_watch_bookmarks=True, timeout_seconds=300):
                    obj = ev["object"]
                    rv = obj.metadata.resource_version
                    if ev["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        self._see(obj, ev["type"] == "DELETED")
            except ApiException as e:
                if e.status == 410:	# too old: list again
                    rv = None
                else:
                    log.warning("pod watch: %s", e)
                    time.sleep(1)
            except Exception as e:	# connection errors: back off and watch again
                log.warning("pod watch: %s", e)
                time.sleep(1)


class K8sRunner:
    """A pod per task attempt from the gateway's template (deploy/game-pod.json,
    its ${NAME} placeholders filled as runner-k8s.c fills them), followed by
    PodWatch; the pod is deleted once it ended."""

    def __init__(self, args):
        from kubernetes import client, config
        if args.kubeconfig:
            config.load_kube_config(config_file=args.kubeconfig)
        else:
            config.load_incluster_config()
        self.core = client.CoreV1Api()
        self.ns = args.namespace
        self.image = args.image
        self.managed_by = args.managed_by
        self.prefix = args.pod_prefix
        self.tasks_topic = args.tasks_topic
        self.allowed = tuple(a for a in args.param_annotations.split(",") if a)
        with open(args.pod_template) as f:
            self.template = f.read()
        self.watch = PodWatch(self.core, self.ns, "paia.io/managed-by=" + self.managed_by)
        self.watch.start()
        self.watch.synced.wait(60)

    def _pod(self, task, msg, timeout_s):
        tid = task["task_id"]
        low = tid.lower().replace("_", "-").replace(".", "-")
        if low != tid:
            low += "-" + hashlib.sha256(tid.encode()).hexdigest()[:8]
        name = "%s-%s-%d" % (self.prefix, low, task["attempt"])
        vals = {"POD_NAME": name, "TASK_ID": tid, "TASK_LABEL": tid, "ATTEMPT": task["attempt"],
                "GATEWAY_ID": self.managed_by, "GAME": task["game"],
                "KAFKA_TOPIC": self.tasks_topic, "KAFKA_PARTITION": msg.partition(),
                "KAFKA_OFFSET": msg.offset(), "DEADLINE_S": timeout_s, "IMAGE": self.image,
                "ENTRY": task["entry"], "PARAMS": task["params"], "GPUS": 1, "NAMESPACE": self.ns}
        pod = json.loads(re.sub(r"\$\{([A-Z_]+)\}", lambda m: json.dumps(str(vals[m.group(1)]))[1:-1],
                                self.template))
        want = json.loads(task["params"]).get("pod_annotations")
        if isinstance(want, dict) and self.allowed:
            ann = pod["metadata"].setdefault("annotations", {})
            ann.update({k: str(v) for k, v in want.items() if k.startswith(self.allowed)})
        return name, pod

    def run(self, task, workdir, timeout_s, msg):
        from kubernetes.client.exceptions import ApiException
        name, pod = self._pod(task, msg, timeout_s)
        w = self.watch.wait_for(name)
        try:
            try:
                self.core.create_namespaced_pod(self.ns, pod)
            except ApiException as e:
                if e.status != 409:	# 409: adopt the pod already there
                    return ("error", "infra", "creating pod %s: %s" % (name, e.reason), None, now_ms())
            started = now_ms()
            if not w[0].wait(timeout_s + 30):
                return ("timeout", "user", "exceeded its timeout of %d s" % timeout_s, started, now_ms())
            p, deleted, finished = w[1], w[2], now_ms()
            if deleted and p.status.phase not in ("Succeeded", "Failed"):
                return ("error", "infra", "pod %s was deleted" % name, started, finished)
            if p.status.phase == "Succeeded":
                return ("succeeded", None, None, started, finished)
            if p.status.reason == "DeadlineExceeded":
                return ("timeout", "user", "exceeded its timeout of %d s" % timeout_s, started, finished)
            code = None
            for cs in p.status.container_statuses or []:
                if cs.state is not None and cs.state.terminated is not None:
                    code = cs.state.terminated.exit_code
            if code:
                return ("failed", "user", "game exited with code %d" % code, started, finished)
            return ("error", "infra", "pod %s failed: %s" % (name, p.status.reason), started, finished)
        finally:
            self.watch.forget(name)
            try:
                self.core.delete_namespaced_pod(name, self.ns)
            except ApiException:
                pass


class Creator:
    def __init__(self, args):
        self.a = args
        self.instance = args.instance or socket.gethostname()
        self.storage = Storage(args.file_root)
        self.runner = K8sRunner(args) if args.runner == "k8s" else LocalRunner(args.command, args.kill_grace_s)
        cconf = {"bootstrap.servers": args.bootstrap, "group.id": args.group,
                 "enable.auto.commit": False, "enable.auto.offset.store": False,
                 "isolation.level": "read_committed", "auto.offset.reset": "earliest"}
        pconf = {"bootstrap.servers": args.bootstrap, "enable.idempotence": True,
                 "transactional.id": "%s-%s" % (args.group, self.instance)}
        for k, v in (kv.split("=", 1) for kv in args.kafka):
            if not k.startswith(PRODUCER_ONLY):
                cconf[k] = v
            if not k.startswith(CONSUMER_ONLY):
                pconf[k] = v
        self.consumer = Consumer(cconf)
        self.producer = Producer(pconf)
        self.producer.init_transactions(30)
        self.txn_lock = threading.Lock()
        self.slots = threading.Condition()
        self.inflight = 0
        self.active = set()		# task ids in flight
        self.history = collections.deque()	# folders of finished tasks, oldest first
        # Per partition: offsets received and not yet reported, and one past the highest.
        self.pending = {}
        self.next = {}
        self.revoked = set()
        self.pool = ThreadPoolExecutor(max_workers=args.max_inflight, thread_name_prefix="game")
        self.stopping = False
        self.fatal = None

    # ---- offsets ----

    def _commit_point(self, p):
        pend = self.pending.get(p)
        return min(pend) if pend else self.next.get(p, 0)

    def on_assign(self, consumer, parts):
        with self.txn_lock:
            for tp in parts:
                self.pending[tp.partition] = set()
                self.next.pop(tp.partition, None)
                self.revoked.discard(tp.partition)

    def on_revoke(self, consumer, parts):
        # A transaction in progress finishes first; results of revoked partitions are dropped.
        with self.txn_lock:
            for tp in parts:
                self.pending.pop(tp.partition, None)
                self.next.pop(tp.partition, None)
                self.revoked.add(tp.partition)

    # ---- transactions ----

    def transact(self, topic, key, value, partition, offset):
        """One transaction: the record and the partition's new commit point."""
        with self.txn_lock:
            if partition in self.revoked:
                log.warning("partition %d revoked; result of offset %d left to its new owner",
                            partition, offset)
                return
            self.pending[partition].discard(offset)
            tps = [TopicPartition(self.a.tasks_topic, partition, self._commit_point(partition))]
            while True:
                try:
                    self.producer.begin_transaction()
                    self.producer.produce(topic, key=key, value=value)
                    self.producer.send_offsets_to_transaction(
                        tps, self.consumer.consumer_group_metadata(), 30)
                    self._retry(lambda: self.producer.commit_transaction(60))
                    return
                except KafkaException as e:
                    err = e.args[0]
                    if err.fatal():
                        self.fatal = "transaction: %s" % err.str()
                        raise
                    log.warning("transaction failed, aborting and retrying: %s", err.str())
                    self._retry(lambda: self.producer.abort_transaction(60))
                    time.sleep(0.1)

    @staticmethod
    def _retry(call):
        while True:
            try:
                return call()
            except KafkaException as e:
                if not e.args[0].retriable():
                    raise
                time.sleep(0.1)

    # ---- a task, in a pool thread ----

    def run_task(self, msg, task):
        received = task["received"]
        workdir = os.path.join(self.a.state_dir, "tasks", task["task_id"])
        prefix = task["result_prefix"].rstrip("/") + "/%s/%d/" % (task["task_id"], task["attempt"])
        arts, game_result = [], None
        started = finished = None
        try:
            shutil.rmtree(workdir, ignore_errors=True)
            os.makedirs(os.path.join(workdir, "input"))
            os.makedirs(os.path.join(workdir, "output"))
            for what in ("program", "model"):
                url = task.get(what)
                if url is None:
                    continue
                try:
                    self.storage.get(url, os.path.join(workdir, "input", url_basename(url)))
                except TaskError as e:
                    raise TaskError(e.status, e.eclass, "downloading the %s: %s" % (what, e.message))
            status, eclass, message, started, finished = self.runner.run(task, workdir, task["timeout_s"], msg)
            out = os.path.join(workdir, "output")
            try:
                with open(os.path.join(out, "result.json"), "rb") as f:
                    g = json.loads(f.read(RESULT_JSON_MAX + 1)[:RESULT_JSON_MAX])
                game_result = g if isinstance(g, dict) else None
            except (OSError, ValueError):
                pass
            names = [("log.txt", "text/plain; charset=utf-8"), ("result.json", "application/json")]
            v = game_result.get("video") if game_result else None
            if isinstance(v, str) and "/" not in v and not v.startswith("."):
                names.append((v, "video/mp4"))
            elif os.path.exists(os.path.join(out, "video.mp4")):
                names.append(("video.mp4", "video/mp4"))
            else:
                names.append(("video.webm", "video/webm"))
            for name, ctype in names:
                path = os.path.join(out, name)
                if not os.path.isfile(path):
                    continue
                try:
                    art = {"name": name, "url": prefix + name, "bytes": os.path.getsize(path),
                           "sha256": sha256_file(path), "content_type": ctype}
                    self.storage.put(path, prefix + name, ctype)
                except (OSError, TaskError) as e:
                    status, eclass = "error", "infra"
                    message = "uploading %s: %s" % (name, getattr(e, "message", e))
                    break
                arts.append(art)
        except TaskError as e:
            status, eclass, message = e.status, e.eclass, e.message
        except OSError as e:
            status, eclass, message = "error", "infra", "%s: %s" % (e.filename, e.strerror)
        urls = {a["name"]: a["url"] for a in arts}
        video = next((a["url"] for a in arts if a["content_type"].startswith("video/")), None)
        timings = {"received": rfc3339(received)}
        if started is not None:
            timings["started"] = rfc3339(started)
        if finished is not None:
            timings["finished"] = rfc3339(finished)
        timings["reported"] = rfc3339(now_ms())
        result = {
            "version": 1, "task_id": task["task_id"], "attempt": task["attempt"],
            "status": status, "game": task["game"], "game_result": game_result,
            "log_url": urls.get("log.txt"), "video_url": video,
            "result_url": urls.get("result.json"), "artifacts": arts, "timings": timings,
        }
        if started is not None and finished is not None:
            result["duration_ms"] = finished - started
        result["error"] = None if status == "succeeded" else {"class": eclass, "message": message}
        result["source"] = {"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset()}
        result["gateway"] = self.instance
        self.transact(self.a.results_topic, task["task_id"], json.dumps(result, separators=(",", ":")),
                      msg.partition(), msg.offset())
        # The folders of the last --history tasks stay (the gateway's gateway.history).
        with self.slots:
            self.history.append(workdir)
            old = self.history.popleft() if len(self.history) > self.a.history else None
            if old in self.history:	# a later run of the same task id uses it
                old = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def task_done(self, task_id, fut):
        exc = fut.exception()
        if exc is not None:
            log.error("task %s: %s", task_id, exc)
            if self.fatal is not None:
                os.kill(os.getpid(), signal.SIGTERM)
        with self.slots:
            self.inflight -= 1
            self.active.discard(task_id)
            self.slots.notify()

    # ---- intake ----

    def decode(self, msg):
        """The task, or raise ValueError(reason, detail)."""
        try:
            t = json.loads(msg.value())
        except (ValueError, TypeError) as e:
            raise ValueError("invalid_json", "message is not valid JSON: %s" % e)
        if not isinstance(t, dict):
            raise ValueError("not_object", "message is not a JSON object")
        if t.get("version") != 1:
            raise ValueError("unsupported_version", "version %r is not supported" % t.get("version"))
        for f in ("task_id", "game", "program"):
            if not isinstance(t.get(f), str):
                raise ValueError("missing_field", "field '%s' is required" % f)
        if not ID_RE.match(t["task_id"]):
            raise ValueError("invalid_value", "field 'task_id' is not a valid id")
        if t.get("program", "").split("://", 1)[0] not in ("file", "http", "https"):
            raise ValueError("invalid_value", "field 'program' must be a file:// or http(s):// URL")
        timeout = t.get("timeout_s") or self.a.default_timeout_s
        return {
            "task_id": t["task_id"], "game": t["game"], "program": t["program"],
            "model": t.get("model"), "attempt": t.get("attempt") or 1,
            "entry": t.get("entry") or url_basename(t["program"]),
            "params": json.dumps(t.get("params") or {}, separators=(",", ":")),
            "timeout_s": min(int(timeout), self.a.max_timeout_s),
            "result_prefix": t.get("result_prefix") or self.a.result_prefix,
            "received": now_ms(),
        }

    def dead_letter(self, msg, reason, detail, task_id=None):
        log.warning("task dead-lettered: partition=%d offset=%d reason=%s",
                    msg.partition(), msg.offset(), reason)
        raw = msg.value() or b""
        rec = {"version": 1, "reason": reason, "detail": detail, "task_id": task_id,
               "topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset(),
               "received": rfc3339(now_ms()), "original_bytes": len(raw),
               "original": raw[:65536].decode("utf-8", "replace"), "original_encoding": "utf-8"}
        self.transact(self.a.dlq_topic, task_id, json.dumps(rec), msg.partition(), msg.offset())

    def receive(self, msg):
        p, off = msg.partition(), msg.offset()
        with self.txn_lock:
            self.pending.setdefault(p, set()).add(off)
            self.next[p] = max(self.next.get(p, 0), off + 1)
        try:
            task = self.decode(msg)
        except ValueError as e:
            self.dead_letter(msg, *e.args)
            return
        with self.slots:
            if task["task_id"] in self.active:
                dup = True
            else:
                dup = False
                self.active.add(task["task_id"])
                self.inflight += 1
        if dup:
            self.dead_letter(msg, "duplicate_task", "task %s is already in flight" % task["task_id"],
                             task["task_id"])
            return
        fut = self.pool.submit(self.run_task, msg, task)
        fut.add_done_callback(lambda f, tid=task["task_id"]: self.task_done(tid, f))

    def run(self):
        self.consumer.subscribe([self.a.tasks_topic], on_assign=self.on_assign,
                                on_revoke=self.on_revoke)
        max_wait = int(dict(kv.split("=", 1) for kv in self.a.kafka).get(
            "max.poll.interval.ms", 300000)) / 3000.0
        paused, full_since = False, None
        log.info("creator started: group=%s topic=%s", self.a.group, self.a.tasks_topic)
        while not self.stopping and self.fatal is None:
            with self.slots:
                if self.inflight >= self.a.max_inflight:
                    self.slots.wait(0.5)
                free = self.a.max_inflight - self.inflight
            if free <= 0:
                full_since = full_since or time.monotonic()
                if not paused and time.monotonic() - full_since > max_wait:
                    self.consumer.pause(self.consumer.assignment())
                    paused = True
                if not paused:
                    continue
                # Paused: polling keeps us in the group; a partition assigned
                # meanwhile may still deliver, and that task is taken.
                msgs = self.consumer.consume(1, 0)
            else:
                full_since = None
                if paused:
                    self.consumer.resume(self.consumer.assignment())
                    paused = False
                msgs = self.consumer.consume(free, 0.5)
            for msg in msgs:
                if msg.error() is not None:
                    log.warning("consume error: %s", msg.error())
                    continue
                self.receive(msg)
        log.info("draining: %d games in flight", self.inflight)
        self.pool.shutdown(wait=True)
        self.consumer.close()
        return 1 if self.fatal is not None else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", default="paia-gateway")
    ap.add_argument("--instance", default="")
    ap.add_argument("--tasks-topic", default="paia.tasks")
    ap.add_argument("--results-topic", default="paia.results")
    ap.add_argument("--dlq-topic", default="paia.tasks.dlq")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--file-root", default="")
    ap.add_argument("--result-prefix", default="")
    ap.add_argument("--max-inflight", type=int, default=8)
    ap.add_argument("--history", type=int, default=1000, help="task folders kept after their result")
    ap.add_argument("--default-timeout-s", type=int, default=600)
    ap.add_argument("--max-timeout-s", type=int, default=3600)
    ap.add_argument("--kill-grace-s", type=int, default=5)
    ap.add_argument("--runner", choices=("local", "k8s"), default="local")
    ap.add_argument("--command", default="", help="game command (local runner)")
    ap.add_argument("--kubeconfig", default="")
    ap.add_argument("--namespace", default="paia")
    ap.add_argument("--image", default="")
    ap.add_argument("--pod-template", default="")
    ap.add_argument("--pod-prefix", default="peer")
    ap.add_argument("--managed-by", default="paia-peer")
    ap.add_argument("--param-annotations", default="",
                    help="annotation prefixes tasks may set through params.pod_annotations")
    ap.add_argument("-X", dest="kafka", action="append", default=[], metavar="KEY=VALUE",
                    help="a librdkafka setting for both clients")
    ap.add_argument("--log-level", default="warning")
    args = ap.parse_args()
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s creator %(levelname)s %(message)s")
    if args.runner == "local" and not args.command:
        ap.error("--command is required with --runner local")
    if args.runner == "k8s" and not (args.image and args.pod_template):
        ap.error("--image and --pod-template are required with --runner k8s")
    c = Creator(args)

    def stop(sig, frame):
        c.stopping = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.exit(c.run())


if __name__ == "__main__":
    main()
