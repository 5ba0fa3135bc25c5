#!/usr/bin/env python3
"""Write watch-pods.jsonl: a watch stream of game pods shaped like the API
server's (kube-apiserver 1.31, encoding/json: compact, HTML characters
escaped as \\u0026...), through a pod's life: created unscheduled,
Unschedulable, scheduled, ContainerCreating, ImagePullBackOff, Running,
Succeeded, deleted; a second pod OOMKilled; bookmarks; and a final ERROR
410. Run it again to regenerate the committed sample."""
import copy, json, sys

def managed_fields(t):
    return [{"manager": "paia-gateway", "operation": "Update", "apiVersion": "v1", "time": t,
             "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {".": {},
             "f:paia.io/attempt": {}, "f:paia.io/managed-by": {}, "f:paia.io/task-id": {}}},
             "f:spec": {"f:activeDeadlineSeconds": {}, "f:containers": {"k:{\"name\":\"game\"}": {
             ".": {}, "f:env": {".": {}, "k:{\"name\":\"DISPLAY\"}": {".": {}, "f:name": {}, "f:value": {}},
             "k:{\"name\":\"PAIA_GAME\"}": {".": {}, "f:name": {}, "f:value": {}},
             "k:{\"name\":\"PAIA_TASK_ID\"}": {".": {}, "f:name": {}, "f:value": {}}},
             "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {".": {}, "f:limits": {
             ".": {}, "f:cpu": {}, "f:memory": {}, "f:nvidia.com/gpu": {}}}, "f:securityContext": {".": {},
             "f:allowPrivilegeEscalation": {}, "f:capabilities": {".": {}, "f:drop": {}}, "f:runAsNonRoot": {}},
             "f:volumeMounts": {".": {}, "k:{\"mountPath\":\"/workspace\"}": {".": {}, "f:mountPath": {},
             "f:name": {}, "f:subPath": {}}}}}}}},
            {"manager": "kube-scheduler", "operation": "Update", "apiVersion": "v1", "time": t,
             "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:conditions": {".": {},
             "k:{\"type\":\"PodScheduled\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {},
             "f:message": {}, "f:reason": {}, "f:status": {}, "f:type": {}}}}}, "subresource": "status"}]

def pod(name, uid, task, game="snake & ladders"):
    t = "2026-11-28T10:00:00Z"
    return {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "paia-games", "uid": uid, "resourceVersion": "1000",
            "creationTimestamp": t,
            "labels": {"app.kubernetes.io/name": "paiagym", "paia.io/attempt": "1",
                       "paia.io/managed-by": "paia-gateway", "paia.io/task-id": task},
            "annotations": {"paia.io/game": game, "paia.io/result-prefix": "s3://paia-results/" + task + "/",
                            "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}"},
            "managedFields": managed_fields(t)},
        "spec": {
            "volumes": [{"name": "workspace", "persistentVolumeClaim": {"claimName": "paia-tasks"}},
                        {"name": "x11", "hostPath": {"path": "/tmp/.X11-unix", "type": "Directory"}}],
            "containers": [{"name": "game", "image": "registry.local/paiagym:3.2.1",
                "command": ["/opt/paiagym/run.sh"], "args": ["--task", "/workspace/input"],
                "env": [{"name": "PAIA_TASK_ID", "value": task}, {"name": "PAIA_GAME", "value": game},
                        {"name": "DISPLAY", "value": ":0"}],
                "resources": {"limits": {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "1"},
                              "requests": {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "1"}},
                "volumeMounts": [{"name": "workspace", "mountPath": "/workspace", "subPath": "tasks/" + task},
                                 {"name": "x11", "mountPath": "/tmp/.X11-unix", "readOnly": True}],
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
                "securityContext": {"capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
                                    "runAsUser": 1000, "allowPrivilegeEscalation": False,
                                    "seccompProfile": {"type": "RuntimeDefault"}}}],
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 30, "activeDeadlineSeconds": 1800,
            "dnsPolicy": "ClusterFirst", "automountServiceAccountToken": False,
            "serviceAccountName": "default", "serviceAccount": "default",
            "securityContext": {"fsGroup": 1000}, "schedulerName": "default-scheduler",
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300},
                            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "priority": 0, "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority"},
        "status": {"phase": "Pending", "qosClass": "Guaranteed"}}

def cond(kind, status, t, reason=None, message=None):
    c = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": t}
    if reason: c["reason"] = reason
    if message: c["message"] = message
    return c

def cstatus(state, ready=False, restarts=0, image_id=""):
    return [{"name": "game", "state": state, "lastState": {}, "ready": ready, "restartCount": restarts,
             "image": "registry.local/paiagym:3.2.1", "imageID": image_id,
             "started": "running" in state}]

events = []
rv = [1000]
def emit(kind, p):
    rv[0] += 7
    p = copy.deepcopy(p)
    p["metadata"]["resourceVersion"] = str(rv[0])
    events.append({"type": kind, "object": p})

t0 = "2026-11-28T10:00:01Z"
a = pod("paia-t-8f3a2c-1", "5b1a8f5e-2c77-4f0e-9a35-0d2c6b7e1a01", "t-8f3a2c")
emit("ADDED", a)
a["status"]["conditions"] = [cond("PodScheduled", "False", t0, "Unschedulable",
    "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: "
    "3 No preemption victims found for incoming pod.")]
emit("MODIFIED", a)
a["spec"]["nodeName"] = "gpu-node-2"
a["status"]["conditions"] = [cond("PodScheduled", "True", t0)]
emit("MODIFIED", a)
a["status"].update({"hostIP": "192.0.2.12", "hostIPs": [{"ip": "192.0.2.12"}], "startTime": t0})
a["status"]["conditions"] = [cond("PodReadyToStartContainers", "False", t0),
    cond("Initialized", "True", t0), cond("Ready", "False", t0, "ContainersNotReady",
    "containers with unready status: [game]"), cond("ContainersReady", "False", t0,
    "ContainersNotReady", "containers with unready status: [game]"), cond("PodScheduled", "True", t0)]
a["status"]["containerStatuses"] = cstatus({"waiting": {"reason": "ContainerCreating"}})
emit("MODIFIED", a)
events.append({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {
    "resourceVersion": str(rv[0] + 3), "creationTimestamp": None,
    "annotations": {"k8s.io/initial-events-end": "true"}}, "spec": {"containers": None}, "status": {}}})
a["status"]["containerStatuses"] = cstatus({"waiting": {"reason": "ImagePullBackOff",
    "message": "Back-off pulling image \"registry.local/paiagym:3.2.1\": ErrImagePull: <rpc error> \u00e9"}})
emit("MODIFIED", a)
a["status"]["phase"] = "Running"
a["status"]["podIP"] = "10.244.2.17"
a["status"]["containerStatuses"] = cstatus({"running": {"startedAt": t0}}, True, 0,
    "registry.local/paiagym@sha256:" + "ab" * 32)
emit("MODIFIED", a)
b = pod("paia-t-11aa07-2", "0c9d22e1-7a44-4b8e-8f5d-51b0c4e3aa02", "t-11aa07", "maze \U0001F600 <hard>")
b["metadata"]["labels"]["paia.io/attempt"] = "2"
emit("ADDED", b)
a["status"]["phase"] = "Succeeded"
a["status"]["containerStatuses"] = cstatus({"terminated": {"exitCode": 0, "reason": "Completed",
    "startedAt": t0, "finishedAt": "2026-11-28T10:05:00Z", "containerID": "containerd://" + "cd" * 32}})
emit("MODIFIED", a)
b["spec"]["nodeName"] = "gpu-node-1"
b["status"]["phase"] = "Failed"
b["status"]["containerStatuses"] = cstatus({"terminated": {"exitCode": 137, "reason": "OOMKilled",
    "startedAt": t0, "finishedAt": "2026-11-28T10:02:00Z"}}, False, 0)
emit("MODIFIED", b)
c = pod("paia-t-evict-1", "77e3c1aa-0000-4000-8000-000000000003", "t-evict")
c["spec"]["nodeName"] = "gpu-node-3"
c["status"].update({"phase": "Failed", "reason": "Evicted",
    "message": "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 2Gi."})
emit("ADDED", c)
a["metadata"]["deletionTimestamp"] = "2026-11-28T10:06:00Z"
a["metadata"]["deletionGracePeriodSeconds"] = 30
emit("MODIFIED", a)
emit("DELETED", a)
events.append({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
    "metadata": {"resourceVersion": str(rv[0] + 50), "creationTimestamp": None},
    "spec": {"containers": None}, "status": {}}})
events.append({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
    "status": "Failure", "message": "too old resource version: 1007 (1120)", "reason": "Expired",
    "code": 410}})

out = open(sys.argv[1] if len(sys.argv) > 1 else "watch-pods.jsonl", "w")
for e in events:
    # Go's encoding/json: compact, <, > and & escaped, non-ASCII kept.
    s = json.dumps(e, separators=(",", ":"), ensure_ascii=False)
    s = s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    out.write(s + "\n")
