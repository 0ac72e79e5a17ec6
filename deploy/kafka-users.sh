#!/usr/bin/env bash
# Makes the Secrets of Kafka's users (deploy/components/kafka-sasl) in one cluster, with new
# random passwords, before cluster a's overlay is applied (kind/platform.sh runs it on kind).
# Secrets that exist are left as they are, so running it again changes nothing. Nothing is
# written to disk, and no password is on a command line (kubectl reads them from its standard
# input).
#
#   deploy/kafka-users.sh --context kind-usactar-a
set -euo pipefail
kubectl=(kubectl "$@")
users=(usactar-admin ingest logs-writer live-forwarder)

exists() { "${kubectl[@]}" -n "$1" get secret "$2" >/dev/null 2>&1; }
password() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# Before the first apply of the overlay the namespaces do not exist yet: made bare here, they
# get their labels and annotations from that apply (the Secrets must exist before the pods).
for namespace in usactar-data usactar-ingest usactar-pipeline; do
  "${kubectl[@]}" get namespace "$namespace" >/dev/null 2>&1 ||
    "${kubectl[@]}" create namespace "$namespace" >/dev/null
done

if exists usactar-data usactar-kafka-users; then
  echo "usactar-data/usactar-kafka-users exists; left as it is"
else
  for u in "${users[@]}"; do echo "$u=$(password)"; done |
    "${kubectl[@]}" -n usactar-data create secret generic usactar-kafka-users \
      --from-env-file=/dev/stdin >/dev/null
  echo "usactar-data/usactar-kafka-users created"
fi

# Each client namespace gets only its own users' passwords, copied from the broker's Secret.
copy() {
  local namespace=$1; shift
  if exists "$namespace" usactar-kafka; then
    echo "$namespace/usactar-kafka exists; left as it is"
    return
  fi
  for u in "$@"; do
    echo "$u=$("${kubectl[@]}" -n usactar-data get secret usactar-kafka-users \
      -o "go-template={{index .data \"$u\" | base64decode}}")"
  done |
    "${kubectl[@]}" -n "$namespace" create secret generic usactar-kafka \
      --from-env-file=/dev/stdin >/dev/null
  echo "$namespace/usactar-kafka created (${*})"
}
copy usactar-ingest ingest
copy usactar-pipeline logs-writer live-forwarder
