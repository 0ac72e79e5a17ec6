#!/usr/bin/env bash
# Applies every overlay to a real kube-apiserver (with etcd, no nodes or controllers): the API
# server's own validation, defaulting and admission, beyond what the offline schemas check.
# Uses the binaries chaos/envtest/build.sh builds (once, ~6 min). One fresh API server per
# overlay, since each stands for a different cluster.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
bin=$("$root/chaos/envtest/build.sh" | tail -n 1)
PATH=$PATH:${GOBIN:-$HOME/go/bin}

render() {
  if command -v kustomize >/dev/null 2>&1; then kustomize build "$1"; else kubectl kustomize "$1"; fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

apply_to_fresh_apiserver() {
  local overlay=$1 dir etcd_port peer_port port token=usactar-envtest
  dir=$(mktemp -d)
  etcd_port=$(free_port)
  peer_port=$(free_port)
  port=$(free_port)
  "$bin/etcd" --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "default=http://127.0.0.1:$peer_port" 2>"$dir/etcd.log" &
  local etcd_pid=$!
  openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
  echo "$token,admin,admin,system:masters" > "$dir/tokens.csv"
  "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" --cert-dir "$dir/certs" \
    --secure-port "$port" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --service-cluster-ip-range 10.0.0.0/24 --token-auth-file "$dir/tokens.csv" \
    --authorization-mode RBAC --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$dir/sa.key" --service-account-signing-key-file "$dir/sa.key" \
    --disable-admission-plugins ServiceAccount 2>"$dir/apiserver.log" &
  local apiserver_pid=$!
  # An empty kubeconfig of its own: the user's ~/.kube/config (say, a current-context of clusters
  # that are down) must not decide whether this check passes.
  : > "$dir/kubeconfig"
  local k=(kubectl --kubeconfig "$dir/kubeconfig" --server "https://127.0.0.1:$port" --token "$token" --insecure-skip-tls-verify)
  local ok=1
  for _ in $(seq 1 150); do
    if "${k[@]}" get namespace default >/dev/null 2>&1; then ok=0; break; fi
    sleep 0.4
  done
  local status=0
  if [ "$ok" -ne 0 ]; then
    echo "kube-apiserver did not start; its log:" >&2
    tail -20 "$dir/apiserver.log" >&2
    status=1
  else
    render "$overlay" > "$dir/rendered.yaml"
    # Custom resources (Linkerd's policy, Chaos Mesh...) need their CRDs, which a bare API server
    # lacks: they are set apart and named, never silently passed (deploy/validate.py checks
    # their shape offline).
    python3 - "$dir/rendered.yaml" "$dir/all.yaml" <<'PY'
import sys, yaml
groups = ("chaos-mesh.org", "linkerd.io", "multicluster.linkerd.io", "policy.linkerd.io",
          "monitoring.coreos.com", "serving.knative.dev")
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
keep, skipped = [], []
for d in docs:
    group = d["apiVersion"].split("/")[0] if "/" in d["apiVersion"] else ""
    (skipped if group in groups else keep).append(d)
yaml.safe_dump_all(keep, open(sys.argv[2], "w"), sort_keys=False)
for d in skipped:
    print(f'  skipped (custom resource, no CRD here): {d["kind"]} {d["metadata"].get("namespace", "-")}/{d["metadata"]["name"]}')
PY
    # kustomize puts Namespaces first, and kubectl applies in file order.
    if ! "${k[@]}" apply --server-side --validate=strict -f "$dir/all.yaml" >"$dir/apply.log" 2>&1; then
      cat "$dir/apply.log" >&2
      status=1
    else
      echo "$overlay: $(grep -c '^kind:' "$dir/all.yaml") objects accepted by kube-apiserver (envtest)"
      # Kafka's users: the Secrets the component reads, made by its script, twice (the second
      # run must change nothing), each namespace with only its own users' passwords.
      if grep -q "name: usactar-kafka-users" "$dir/all.yaml"; then
        kafka_users_secrets "${k[@]:1}" || status=1
      fi
    fi
  fi
  kill "$apiserver_pid" "$etcd_pid" 2>/dev/null || true
  wait "$apiserver_pid" "$etcd_pid" 2>/dev/null || true
  rm -rf "$dir"
  return "$status"
}

kafka_users_secrets() {
  local k=(kubectl "$@") first second
  first=$("$root/deploy/kafka-users.sh" "$@") || return 1
  second=$("$root/deploy/kafka-users.sh" "$@") || return 1
  # shellcheck disable=SC2016  # a Go template, not a shell expansion
  secret_keys() { "${k[@]}" -n "$1" get secret "$2" -o go-template='{{range $k, $v := .data}}{{$k}} {{end}}'; }
  if [ "$(secret_keys usactar-data usactar-kafka-users)" != "ingest live-forwarder logs-writer usactar-admin " ] ||
    [ "$(secret_keys usactar-ingest usactar-kafka)" != "ingest " ] ||
    [ "$(secret_keys usactar-pipeline usactar-kafka)" != "live-forwarder logs-writer " ] ||
    [ "$(grep -c created <<<"$first")" != 3 ] || [ "$(grep -c "left as it is" <<<"$second")" != 3 ]; then
    echo "deploy/kafka-users.sh: unexpected Secrets; first run: $first; second run: $second" >&2
    return 1
  fi
  # A client namespace's password is the broker's for the same user.
  local broker client
  broker=$("${k[@]}" -n usactar-data get secret usactar-kafka-users -o go-template='{{index .data "ingest"}}')
  client=$("${k[@]}" -n usactar-ingest get secret usactar-kafka -o go-template='{{index .data "ingest"}}')
  if [ -z "$broker" ] || [ "$broker" != "$client" ]; then
    echo "ingest's password differs between its Secrets" >&2
    return 1
  fi
  echo "  deploy/kafka-users.sh: 3 Secrets made, none changed by a second run, each namespace with its own users only"
}

failed=0
overlays=("$@")
[ "${#overlays[@]}" -gt 0 ] || overlays=(deploy/overlays/kind/a deploy/overlays/kind/b deploy/overlays/gke deploy/overlays/aks \
  deploy/overlays/kind/sandbox/a deploy/overlays/kind/sandbox/a-three-brokers)
for overlay in "${overlays[@]}"; do
  (cd "$root" && apply_to_fresh_apiserver "$overlay") || failed=1
done
exit "$failed"
