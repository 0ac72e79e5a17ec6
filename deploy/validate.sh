#!/usr/bin/env bash
# Offline validation of the Kubernetes path: renders every overlay and validates each object
# against the Kubernetes schemas (kubernetes-validate) and the project's rules, checks the Cloud
# Run service, the Grafana dashboards, the example Secrets, the shell scripts (shellcheck) and
# flake.nix: it parses, and evaluates against nix/offline-eval's stand-ins for nixpkgs, crane and
# flake-utils (which cannot be fetched here), so nothing is built.
#
# Needs: kustomize or kubectl, python3 with kubernetes-validate and PyYAML, shellcheck,
# nix-instantiate. deploy/install-tools.sh installs them.
set -euo pipefail
# kustomize from deploy/install-tools.sh lands here when there is no kubectl.
export PATH="$PATH:${GOBIN:-$HOME/go/bin}"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"

# The Kubernetes version whose schemas the objects must satisfy: the oldest that GKE and AKS
# still offer (k8s-openapi in chaos/ speaks the same).
k8s_version=1.33.0
failed=0

# deploy/install-tools.sh puts kustomize in ~/go/bin when there is no kubectl.
PATH=$PATH:${GOBIN:-$HOME/go/bin}

render() {
  if command -v kustomize >/dev/null 2>&1; then
    kustomize build "$1"
  elif command -v kubectl >/dev/null 2>&1; then
    kubectl kustomize "$1"
  else
    echo "neither kustomize nor kubectl found: run deploy/install-tools.sh" >&2
    return 1
  fi
}

step() { printf '== %s\n' "$*"; }

for overlay in deploy/overlays/kind/a deploy/overlays/kind/b deploy/overlays/kind/sandbox/a \
  deploy/overlays/kind/sandbox/b deploy/overlays/kind/sandbox/a-three-brokers deploy/overlays/gke \
  deploy/overlays/aks; do
  step "render and validate $overlay"
  # The clouds' ingresses face the internet: TLS required (kind's are bound to this machine).
  tls=()
  case $overlay in deploy/overlays/gke|deploy/overlays/aks) tls=(--require-tls) ;; esac
  if ! render "$overlay" | python3 "$here/validate.py" --k8s-version "$k8s_version" --label "$overlay" "${tls[@]}"; then
    failed=1
  fi
done

step "the sandbox's ingress (kind/sandbox/ingress.yaml)"
python3 "$here/validate.py" --k8s-version "$k8s_version" --label "the sandbox ingress" \
  < kind/sandbox/ingress.yaml || failed=1

step "example Secrets are valid Secrets"
python3 "$here/validate.py" --k8s-version "$k8s_version" --no-project-rules --label "example Secrets" \
  < deploy/secret.example || failed=1

step "Cloud Run service, Grafana dashboards, frontend files"
python3 - <<'PY' || failed=1
import json, pathlib, sys, yaml
errors = []
svc = yaml.safe_load(open("deploy/cloudrun/frontend.yaml"))
if svc.get("apiVersion") != "serving.knative.dev/v1" or svc.get("kind") != "Service":
    errors.append("cloudrun/frontend.yaml: not a serving.knative.dev/v1 Service")
containers = svc["spec"]["template"]["spec"]["containers"]
if len(containers) != 1:
    errors.append("cloudrun/frontend.yaml: Cloud Run wants exactly one serving container")
env = {e["name"] for e in containers[0].get("env", [])}
if "USACTAR_API_BASE" not in env:
    errors.append("cloudrun/frontend.yaml: no USACTAR_API_BASE")
if containers[0]["ports"][0]["containerPort"] != 8080:
    errors.append("cloudrun/frontend.yaml: the frontend listens on $PORT=8080")
# The flake's frontend image is made of these (frontend/deploy is another engineer's).
for f in ["frontend/package.json", "frontend/package-lock.json", "frontend/deploy/entrypoint.sh",
          "frontend/deploy/nginx.conf.template"]:
    if not pathlib.Path(f).is_file():
        errors.append(f"{f}: missing, and flake.nix's frontend image needs it")
# kind's cluster configs and Helm values: at least well-formed YAML of the expected kind.
for f in sorted(pathlib.Path("kind").glob("*.yaml")):
    doc = yaml.safe_load(open(f))
    if f.name.startswith("cluster-") and (doc.get("kind") != "Cluster" or doc.get("apiVersion") != "kind.x-k8s.io/v1alpha4"):
        errors.append(f"{f}: not a kind Cluster config")
kust = yaml.safe_load(open("deploy/grafana/kustomization.yaml"))
listed = set(kust["configMapGenerator"][0]["files"])
present = {p.name for p in pathlib.Path("deploy/grafana").glob("*.json")}
if listed != present:
    errors.append(f"grafana: kustomization lists {sorted(listed)}, folder has {sorted(present)}")
for name in sorted(present):
    d = json.load(open(f"deploy/grafana/{name}"))
    for p in d["panels"]:
        for t in p.get("targets", []):
            if not t.get("expr"):
                errors.append(f"grafana/{name}: panel {p['title']} has an empty query")
for e in errors:
    print("  ERROR", e)
print(f"cloudrun + grafana + frontend files: {len(errors)} errors")
sys.exit(1 if errors else 0)
PY

step "shellcheck"
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck kind/*.sh kind/sandbox/*.sh kind/sandbox/rootfs/*.sh deploy/*.sh chaos/envtest/*.sh && echo "shellcheck: clean" || failed=1
else
  echo "shellcheck not found: run deploy/install-tools.sh" >&2
  failed=1
fi

step "flake.nix parses, and evaluates against stand-ins for its inputs"
if command -v nix-instantiate >/dev/null 2>&1; then
  for f in flake.nix nix/*.nix nix/offline-eval/*.nix; do
    nix-instantiate --parse "$f" >/dev/null || { echo "  ERROR $f does not parse"; failed=1; }
  done
  # nixpkgs and crane cannot be fetched here: nix/offline-eval stands in for them (attribute
  # names checked against their sources) and runs crane's source filter over this tree. It
  # builds nothing and needs no writable store.
  if nix-instantiate --eval --strict --json nix/offline-eval >/dev/null; then
    echo "flake.nix: parses and evaluates for every system (inputs stood in for; nothing built)"
  else
    failed=1
  fi
else
  echo "nix-instantiate not found: run deploy/install-tools.sh" >&2
  failed=1
fi

if [ "$failed" -ne 0 ]; then
  echo "deploy/validate.sh: FAILED"
  exit 1
fi
echo "deploy/validate.sh: all passed"
