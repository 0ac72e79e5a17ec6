#!/usr/bin/env bash
# Container images for the sandbox clusters, without a container engine: a root filesystem
# folder per image (static binaries, or dynamic ones with the libraries ldd names, copied from
# $SANDBOX_BIN and this machine), written as an OCI archive by oci-image.py into
# $SANDBOX_CACHE/images/<file>.tar under the name the manifests use. Nothing is pulled.
#
#   kind/sandbox/images.sh [GROUP...]    groups: base (default), linkerd, ingress, pipeline_a,
#                                        pipeline_b
#
# An archive is rewritten only when it is missing or older than what it is made of.
# Prints the archives' paths.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
IMAGES=$SANDBOX_CACHE/images
mkdir -p "$IMAGES"

# rootfs_base DIR: users root, nonroot (65532), nobody (65534); CA certificates; /tmp.
rootfs_base() {
  local r=$1
  rm -rf "$r"
  mkdir -p "$r"/{etc/ssl/certs,tmp,home/nonroot,bin,usr/bin,var/run,run,proc,sys,dev}
  chmod 1777 "$r/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\nnobody:x:65534:\n' > "$r/etc/group"
  printf 'hosts: files dns\n' > "$r/etc/nsswitch.conf"
  chown 65532:65532 "$r/home/nonroot"
  cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
}

# add_bin ROOTFS SRC DEST: copies a program to DEST in ROOTFS, without its symbols (the Go
# builds carry debug information: a third of their size), with the shared libraries and the
# loader it needs at the same paths as on this machine.
add_bin() {
  local r=$1 src=$2 dest=$3
  mkdir -p "$r$(dirname "$dest")"
  cp -L "$src" "$r$dest"
  strip --strip-unneeded "$r$dest" 2>/dev/null || true
  add_libs "$r" "$src"
}
# add_libs ROOTFS FILE: the shared libraries FILE needs (ldd), at their paths on this machine.
add_libs() {
  local r=$1 lib
  while read -r lib; do
    [ -n "$lib" ] || continue
    mkdir -p "$r$(dirname "$lib")"
    cp -Ln "$lib" "$r$lib"
  done < <(ldd "$2" 2>/dev/null | grep -oE '/[^ ]+' || true)
}

# image FILE NAME INPUT... -- oci-image.py options: builds rootfs with the function build_FILE
# when the archive is older than any INPUT (files), then writes the archive.
image() {
  local file=$1 name=$2 out=$IMAGES/$1.tar inputs=() stale=0
  shift 2
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do inputs+=("$1"); shift; done
  shift
  local i
  for i in "${inputs[@]}" "$here/images.sh" "$here/oci-image.py"; do
    if [ ! -e "$i" ]; then echo "images.sh: $name: missing $i, skipped" >&2; return 0; fi
    [ -f "$out" ] && [ ! "$i" -nt "$out" ] || stale=1
  done
  if [ "$stale" = 1 ]; then
    local r=$IMAGES/rootfs/$file
    rootfs_base "$r"
    "build_$file" "$r"
    python3 "$here/oci-image.py" --rootfs "$r" --name "$name" --out "$out" "$@"
    rm -rf "$r"  # the archive holds it all; the folder would only take disk space
  fi
  echo "$out"
}

build_pause() {
  local r=$1 src=$IMAGES/rootfs/pause.c
  cat > "$src" <<'C'
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int s) { (void)s; _exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(void) {
  struct sigaction a = {0}, c = {0};
  a.sa_handler = stop; sigaction(SIGINT, &a, NULL); sigaction(SIGTERM, &a, NULL);
  c.sa_handler = reap; c.sa_flags = SA_NOCLDSTOP; sigaction(SIGCHLD, &c, NULL);
  for (;;) pause();
}
C
  gcc -O2 -static -o "$r/pause" "$src"
}

build_busybox() {
  local r=$1
  cp /bin/busybox "$r/bin/busybox"
  local a
  for a in sh ls cat echo sleep wget nc ps env id ip ping nslookup hostname date grep sed awk head tail httpd mkdir wc tr cp mv rm cmp; do
    ln -sf busybox "$r/bin/$a"
  done
}

build_coredns() { add_bin "$1" "$SANDBOX_BIN/coredns" /coredns; }

# Linkerd, as its Dockerfiles lay out the images (Dockerfile.controller, Dockerfile.proxy,
# viz/*/Dockerfile), under the names linkerd install renders for $LINKERD_REF.
build_linkerd_controller() {
  add_bin "$1" "$SANDBOX_BIN/l5d/controller" /controller
  add_bin "$1" "$SANDBOX_BIN/l5d/policy-controller" /linkerd-policy-controller
}
build_linkerd_proxy() {
  local r=$1
  add_bin "$r" "$SANDBOX_BIN/linkerd2-proxy" /usr/lib/linkerd/linkerd2-proxy
  add_bin "$r" "$SANDBOX_BIN/l5d/proxy-identity" /usr/lib/linkerd/linkerd2-proxy-identity
  add_bin "$r" "$SANDBOX_BIN/linkerd2-proxy-init" /usr/lib/linkerd/linkerd2-proxy-init
  echo "${LINKERD_PROXY_REF#release/}" > "$r/usr/lib/linkerd/linkerd2-proxy-version.txt"
  add_bin "$r" /bin/sleep /bin/sleep
  add_iptables "$r"
  # As Dockerfile.proxy: proxy-init runs as 65534 with NET_ADMIN and NET_RAW, which a non-root
  # process only gets from the files' capabilities.
  local f
  for f in /usr/sbin/xtables-legacy-multi /usr/sbin/xtables-nft-multi /usr/lib/linkerd/linkerd2-proxy-init; do
    setcap cap_net_raw,cap_net_admin+eip "$r$f"
  done
}
add_iptables() {
  local r=$1 m v t s
  for m in xtables-nft-multi xtables-legacy-multi; do add_bin "$r" "/usr/sbin/$m" "/usr/sbin/$m"; done
  # Debian's names: iptables-nft, iptables-nft-save, iptables-legacy-restore...; plain = nft.
  for t in iptables ip6tables; do
    for v in nft legacy; do
      for s in "" -save -restore; do ln -sf "xtables-$v-multi" "$r/usr/sbin/$t-$v$s"; done
    done
    for s in "" -save -restore; do ln -sf "$t-nft$s" "$r/usr/sbin/$t$s"; done
  done
  mkdir -p "$r/usr/lib/x86_64-linux-gnu/xtables"
  cp -a /usr/lib/x86_64-linux-gnu/xtables/. "$r/usr/lib/x86_64-linux-gnu/xtables/"
}
build_linkerd_metrics_api() { add_bin "$1" "$SANDBOX_BIN/l5d/metrics-api" /metrics-api; }
build_linkerd_tap() { add_bin "$1" "$SANDBOX_BIN/l5d/tap" /tap; }
build_linkerd_web() { add_bin "$1" "$SANDBOX_BIN/l5d/web" /web; }

group_base() {
  image pause registry.k8s.io/pause:3.10 -- --entrypoint '["/pause"]' --user 65535:65535
  image busybox usactar.local/busybox:sandbox /bin/busybox -- --cmd '["sh"]'
  image coredns "registry.k8s.io/coredns/coredns:$COREDNS_REF" "$SANDBOX_BIN/coredns" -- \
    --entrypoint '["/coredns"]' --user 65532
}

group_linkerd() {
  local v=$LINKERD_REF
  image linkerd_controller "cr.l5d.io/linkerd/controller:$v" \
    "$SANDBOX_BIN/l5d/controller" "$SANDBOX_BIN/l5d/policy-controller" -- \
    --entrypoint '["/controller"]' --user 65532 --env "LINKERD_CONTAINER_VERSION_OVERRIDE=$v"
  image linkerd_proxy "cr.l5d.io/linkerd/proxy:$v" "$SANDBOX_BIN/linkerd2-proxy" \
    "$SANDBOX_BIN/l5d/proxy-identity" "$SANDBOX_BIN/linkerd2-proxy-init" -- \
    --entrypoint '["/usr/lib/linkerd/linkerd2-proxy-identity"]' --user 65534 \
    --env "LINKERD_CONTAINER_VERSION_OVERRIDE=$v" --env LINKERD2_PROXY_LOG=warn,linkerd=info \
    --env LINKERD2_PROXY_LOG_FORMAT=plain
  image linkerd_metrics_api "cr.l5d.io/linkerd/metrics-api:$v" "$SANDBOX_BIN/l5d/metrics-api" -- \
    --entrypoint '["/metrics-api"]' --user 65532
  image linkerd_tap "cr.l5d.io/linkerd/tap:$v" "$SANDBOX_BIN/l5d/tap" -- \
    --entrypoint '["/tap"]' --user 65532
  image linkerd_web "cr.l5d.io/linkerd/web:$v" "$SANDBOX_BIN/l5d/web" -- \
    --entrypoint '["/web"]' --user 65532
  # linkerd-viz's Prometheus, built by build-go.sh at the release the viz chart names.
  image prometheus "prom/prometheus:v$PROMETHEUS_VERSION" "$SANDBOX_BIN/l5d/prometheus" -- \
    --entrypoint '["/bin/prometheus"]' --user 65534
}
build_prometheus() { add_bin "$1" "$SANDBOX_BIN/l5d/prometheus" /bin/prometheus; }

# The Usactar services (build-services.sh), as flake.nix's images: the binary, CA certificates,
# user 65532, /tmp; under the names the kind overlays use (usactar/<name>:dev).
service_image() {
  image "usactar_${1//-/_}" "usactar/$1:dev" "$SANDBOX_BIN/usactar/$1" -- \
    --entrypoint "[\"/bin/$1\"]" --user 65532:65532
}
build_usactar_ingest() { add_bin "$1" "$SANDBOX_BIN/usactar/ingest" /bin/ingest; }
build_usactar_logs_writer() { add_bin "$1" "$SANDBOX_BIN/usactar/logs-writer" /bin/logs-writer; }
build_usactar_live_forwarder() { add_bin "$1" "$SANDBOX_BIN/usactar/live-forwarder" /bin/live-forwarder; }
build_usactar_live_store() { add_bin "$1" "$SANDBOX_BIN/usactar/live-store" /bin/live-store; }
build_usactar_read_api() { add_bin "$1" "$SANDBOX_BIN/usactar/read-api" /bin/read-api; }

# Kafka 4.1.1: the jars scripts/setup fetches from Maven Central, on a Java 17 runtime that
# jlink cuts from this machine's JDK to the modules a broker uses, with rootfs/kafka-run.sh
# taking apache/kafka's KAFKA_* variables. The overlays' apache/kafka:4.1.1 is renamed to it.
KAFKA_LIBS=${USACTAR_KAFKA_LIBS:-${USACTAR_HOME:-$HOME/.cache/usactar}/kafka-4.1.1/libs}
KAFKA_JRE=$SANDBOX_BIN/kafka-jre
kafka_jre() {
  [ -x "$KAFKA_JRE/bin/java" ] && return
  local jdk=${SANDBOX_JDK:-/usr/lib/jvm/java-17-openjdk-amd64}
  [ -d "$jdk/jmods" ] || { echo "images.sh: no $jdk/jmods: apt-get install openjdk-17-jdk-headless" >&2; return 1; }
  rm -rf "$KAFKA_JRE.tmp"
  "$jdk/bin/jlink" --output "$KAFKA_JRE.tmp" --strip-debug --no-man-pages --no-header-files \
    --compress=2 --add-modules java.base,java.compiler,java.desktop,java.instrument,java.logging,java.management,java.management.rmi,java.naming,java.net.http,java.rmi,java.scripting,java.security.jgss,java.security.sasl,java.sql,java.transaction.xa,java.xml,jdk.crypto.ec,jdk.jfr,jdk.management,jdk.naming.dns,jdk.net,jdk.security.auth,jdk.unsupported,jdk.zipfs
  mv "$KAFKA_JRE.tmp" "$KAFKA_JRE"
}
build_kafka() {
  local r=$1 f
  build_busybox "$r"
  mkdir -p "$r/opt" "$r/opt/kafka/config" "$r/var/lib/kafka/data"
  cp -a "$KAFKA_JRE" "$r/opt/java"
  ln -s /opt/java/bin/java "$r/usr/bin/java"
  while read -r f; do add_libs "$r" "$f"; done < <(find "$r/opt/java" -name '*.so' -o -path '*/bin/java')
  cp -a "$KAFKA_LIBS" "$r/opt/kafka/libs"
  cat > "$r/opt/kafka/config/log4j2.properties" <<'LOG'
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = warn
LOG
  cp "$here/rootfs/kafka-run.sh" "$r/usr/bin/kafka-run"
  chown 1000:1000 "$r/var/lib/kafka/data"
}

# FerretDB 1.24 on SQLite, scripts/setup's build, in place of the overlays' mongo:7.0 (the
# MongoDB wire protocol, as Cosmos DB's MongoDB API is in the cloud); configured by its
# FERRETDB_* variables, data in /data/db (mongo's volume path), probes on /debug/readyz.
FERRETDB_BIN=${USACTAR_HOME:-$HOME/.cache/usactar}/bin/ferretdb
build_ferretdb() {
  add_bin "$1" "$FERRETDB_BIN" /ferretdb
  mkdir -p "$1/data/db"
  chown 999:999 "$1/data/db"
}

# Redis and its exporter for deploy/infra/redis, from Debian's packages (redis-server 7.0 and
# prometheus-redis-exporter), in place of the overlays' redis:7.4-alpine and
# oliver006/redis_exporter.
build_redis() {
  local r=$1 b
  for b in redis-server redis-cli; do add_bin "$r" "/usr/bin/$b" "/usr/local/bin/$b"; done
  mkdir -p "$r/data"
  chown 999:999 "$r/data"
}
build_redis_exporter() { add_bin "$1" /usr/bin/prometheus-redis-exporter /redis_exporter; }

# The ingress (ingress.yaml): Debian's NGINX, jq and kubectl, and the controller script.
build_ingress() {
  local r=$1
  build_busybox "$r"
  add_bin "$r" /usr/sbin/nginx /usr/sbin/nginx
  add_bin "$r" /usr/bin/jq /usr/bin/jq
  add_bin "$r" "$SANDBOX_BIN/kubectl" /usr/local/bin/kubectl
  mkdir -p "$r/etc/nginx" "$r/etc/sandbox-ingress" "$r/var/log/nginx" "$r/var/lib/nginx"
  cp /etc/nginx/mime.types "$r/etc/nginx/"
  cp "$here/rootfs/ingress-nginx.conf" "$r/etc/sandbox-ingress/nginx.conf"
  cp "$here/rootfs/ingress-render.jq" "$r/etc/sandbox-ingress/render.jq"
  cp "$here/rootfs/ingress-controller.sh" "$r/usr/local/bin/ingress-controller"
}

group_ingress() {
  image ingress usactar.local/sandbox-ingress:nginx-1.22 /usr/sbin/nginx /usr/bin/jq \
    "$SANDBOX_BIN/kubectl" "$here/rootfs/ingress-controller.sh" "$here/rootfs/ingress-render.jq" \
    "$here/rootfs/ingress-nginx.conf" -- --entrypoint '["/usr/local/bin/ingress-controller"]'
}
# Cluster a: ingest, the consumer pod's two containers, Kafka.
group_pipeline_a() {
  local s
  for s in ingest logs-writer live-forwarder; do service_image "$s"; done
  kafka_jre
  image kafka usactar.local/kafka:4.1.1 "$KAFKA_JRE/release" "$KAFKA_LIBS/.complete" \
    "$here/rootfs/kafka-run.sh" -- --entrypoint '["/usr/bin/kafka-run"]' --user 1000:1000
}
# Cluster b: live-store, read-api, Redis and its exporter, FerretDB.
group_pipeline_b() {
  local s
  for s in live-store read-api; do service_image "$s"; done
  # The official redis images build Redis with protected mode off (a container's loopback is
  # not the machine's); Debian's keeps it on and refuses every client from outside the pod.
  image redis usactar.local/redis:7.0-debian /usr/bin/redis-server -- \
    --entrypoint '["redis-server", "--protected-mode", "no"]' --user 999:999
  image redis_exporter usactar.local/redis-exporter:debian /usr/bin/prometheus-redis-exporter -- \
    --entrypoint '["/redis_exporter"]' --user 59000:59000
  image ferretdb usactar.local/ferretdb:1.24.2 "$FERRETDB_BIN" -- --entrypoint '["/ferretdb"]' \
    --user 999:999 --env FERRETDB_HANDLER=sqlite --env FERRETDB_SQLITE_URL=file:/data/db/ \
    --env FERRETDB_STATE_DIR=/tmp --env FERRETDB_LISTEN_ADDR=:27017 \
    --env FERRETDB_DEBUG_ADDR=:8088 --env FERRETDB_TELEMETRY=disable --env FERRETDB_LOG_LEVEL=warn
}

# shellcheck source=kind/sandbox/images-chaos-mesh.sh
. "$here/images-chaos-mesh.sh"

[ "$#" -gt 0 ] || set -- base
for g in "$@"; do "group_$g"; done
