#!/bin/bash
# deploy/k8s/ as a kustomize base on the Kubernetes test environment
# (tests/env/k8s.sh start), the way operators and deploy/ci/gitlab-ci.yml
# apply it:
#  1. kubectl kustomize renders every manifest of the folder (none left
#     out of kustomization.yaml), each object with the
#     app.kubernetes.io/* labels, the Deployment's selector untouched;
#  2. kubectl apply -k --dry-run=server: the API server accepts every
#     object (its validation and the admission chain, not a client-side
#     parse), and refuses a broken copy (the check can fail);
#  3. a site overlay (the CI example's: a new image) renders and passes.
. "$(dirname "$0")/../integration/lib.sh"

ENV_SH=$SRCDIR/tests/env/k8s.sh
BASE=$SRCDIR/deploy/k8s
"$ENV_SH" status >/dev/null 2>&1 || bail "no Kubernetes test environment: run tests/env/k8s.sh start"
eval "$("$ENV_SH" env)"
command -v python3 >/dev/null 2>&1 && python3 -c 'import yaml' 2>/dev/null ||
	{ echo "1..0 # SKIP python3 with yaml (python3-yaml) is needed"; exit 0; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/paia-k8s-deploy.XXXXXX")
STATES="$TMP"
admin() { "$KUBECTL" --kubeconfig "$K8S_ADMIN_KUBECONFIG" "$@"; }
quiet() { "$@" >"$TMP/quiet.out" 2>&1 || { sed 's/^/# /' "$TMP/quiet.out"; return 1; }; }

# --- 1. the rendering ---------------------------------------------------------
admin kustomize "$BASE" > "$TMP/rendered.yaml" 2> "$TMP/kustomize.err"
check "kubectl kustomize deploy/k8s renders" [ $? -eq 0 ]
check "every manifest of deploy/k8s is a resource of kustomization.yaml" python3 - "$BASE" <<'PY'
import os, sys, yaml
base = sys.argv[1]
k = yaml.safe_load(open(os.path.join(base, "kustomization.yaml")))
listed = set(k["resources"])
files = {f for f in os.listdir(base) if f.endswith((".yaml", ".yml")) and f != "kustomization.yaml"}
missing, extra = files - listed, listed - files
for f in sorted(missing): print("# not a resource: " + f)
for f in sorted(extra): print("# listed, not there: " + f)
sys.exit(1 if missing or extra else 0)
PY
check "every object carries app.kubernetes.io/{name or part-of, component, managed-by, version}; the selector does not" \
	python3 - "$TMP/rendered.yaml" <<'PY'
import sys, yaml
bad = []
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    l = d["metadata"].get("labels", {})
    name = d["kind"] + "/" + d["metadata"]["name"]
    if l.get("app.kubernetes.io/part-of") != "paia" or l.get("app.kubernetes.io/managed-by") != "kustomize" \
            or "app.kubernetes.io/version" not in l:
        bad.append(name)
    if d["kind"] not in ("Namespace",) and "app.kubernetes.io/component" not in l:
        bad.append(name + " (component)")
    if d["kind"] == "Deployment" and d["spec"]["selector"]["matchLabels"] != {"app.kubernetes.io/name": "paia-gateway"}:
        bad.append(name + " (selector changed)")
for b in bad: print("# " + b)
print("# %d objects" % len(docs))
sys.exit(1 if bad or len(docs) < 9 else 0)
PY

# --- 2. the API server's judgement -------------------------------------------------
admin apply -k "$BASE" --dry-run=server > "$TMP/apply.out" 2>&1
rc=$?
sed 's/^/# /' "$TMP/apply.out"
check "kubectl apply -k deploy/k8s --dry-run=server" [ "$rc" -eq 0 ]
check "... every rendered object was judged by the server" \
	test "$(grep -c '(server dry run)$' "$TMP/apply.out")" -eq "$(grep -c '^kind: ' "$TMP/rendered.yaml")"
cp -r "$BASE" "$TMP/broken"
sed -i 's/^  replicas: 1$/  replicas: -1/' "$TMP/broken/50-deployment.yaml"
admin apply -k "$TMP/broken" --dry-run=server > "$TMP/broken.out" 2>&1
rc=$?
check "a broken Deployment is refused by the server, named" \
	eval '[ "$rc" -ne 0 ] && grep -q "Deployment \"paia-gateway\" is invalid: spec.replicas" "$TMP/broken.out"'

# --- 3. an overlay ---------------------------------------------------------------
# kustomize takes no absolute path: the base next to the overlay, as in a site repository.
mkdir -p "$TMP/overlay"
cp -r "$BASE" "$TMP/base"
cat > "$TMP/overlay/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../base
images:
- name: registry.example.net/paia/paia-gateway
  newName: registry.site.example/paia/paia-gateway
  newTag: "1a2b3c4"
YAML
admin kustomize "$TMP/overlay" > "$TMP/overlay.yaml" 2>&1
check "an overlay sets the gateway's image" \
	grep -q 'image: registry.site.example/paia/paia-gateway:1a2b3c4$' "$TMP/overlay.yaml"
check "... and passes the server's dry run" quiet admin apply -k "$TMP/overlay" --dry-run=server

tap_done
