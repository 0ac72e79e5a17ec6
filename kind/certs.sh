#!/usr/bin/env bash
# One Linkerd trust anchor for both clusters, so each proxy trusts the other cluster's identities,
# and one issuer per cluster (a, b) signed by it, written into DIR once: a second run finds
# DIR/ca.crt and changes nothing. step when present, openssl otherwise. Used by kind/platform.sh
# (for kind and the sandbox clusters).
#   kind/certs.sh DIR
set -euo pipefail
dir=${1:?usage: kind/certs.sh DIR}
mkdir -p "$dir"
if [ -f "$dir/ca.crt" ]; then exit 0; fi
echo "generating the shared Linkerd trust anchor in $dir"
if command -v step >/dev/null 2>&1; then
  step certificate create root.linkerd.cluster.local "$dir/ca.crt" "$dir/ca.key" \
    --profile root-ca --no-password --insecure --not-after 87600h
  for c in a b; do
    step certificate create identity.linkerd.cluster.local "$dir/issuer-$c.crt" "$dir/issuer-$c.key" \
      --profile intermediate-ca --not-after 8760h --no-password --insecure \
      --ca "$dir/ca.crt" --ca-key "$dir/ca.key"
  done
else
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -days 3650 -subj "/CN=root.linkerd.cluster.local" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.crt"
  for c in a b; do
    openssl ecparam -name prime256v1 -genkey -noout -out "$dir/issuer-$c.key"
    openssl req -new -key "$dir/issuer-$c.key" -subj "/CN=identity.linkerd.cluster.local" \
      -out "$dir/issuer-$c.csr"
    openssl x509 -req -in "$dir/issuer-$c.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
      -CAcreateserial -days 365 -out "$dir/issuer-$c.crt" \
      -extfile <(printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n')
  done
fi
