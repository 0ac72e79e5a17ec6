#!/usr/bin/env bash
# Runs this component's brokers and ACL Job against real Kafka on this machine, without a
# cluster: renders an overlay (deploy/overlays/kind/sandbox/a by default), gives each
# broker the environment Kubernetes would (random passwords for the Secrets, $(VAR) expanded,
# the pod's name and index), starts as many brokers as the StatefulSet has replicas through the
# sandbox image's entrypoint (kind/sandbox/rootfs/kafka-run.sh, the apache/kafka image's
# contract), runs the Job's script, then checks with Kafka's own tools that:
#   - a client without a user gets nothing;
#   - ingest can write the topic, and a record it wrote is there;
#   - logs-writer cannot write it, nor read live-forwarder's group;
#   - logs-writer reads the topic in its own group;
#   - with three brokers (deploy/components/kafka-sasl-three-brokers), the topic ingest made has
#     three replicas, all in sync;
#   - on kind's EXTERNAL listener (deploy/components/kafka-sasl-external, the kit's lag readers),
#     if the overlay has it, only the administrator gets in.
# Only the addresses change (loopback ports instead of the Services' names), and the paths
# (the jars scripts/setup installed instead of /opt/kafka). Prints PASS or the first failure.
#
#   deploy/components/kafka-sasl/check.sh
#   deploy/components/kafka-sasl/check.sh deploy/overlays/kind/sandbox/a-three-brokers
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"
overlay=${1:-deploy/overlays/kind/sandbox/a}
work=$(mktemp -d)
broker_pids=()
cleanup() {
  for pid in "${broker_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${broker_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

kubectl kustomize "$root/$overlay" > "$work/rendered.yaml"
# The environment of each broker and of the Job, as the kubelet would give it; free loopback
# ports for every listener of every broker.
python3 - "$work" <<'PY'
import re, secrets, shlex, socket, sys, yaml
work = sys.argv[1]
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
docs = [d for d in yaml.safe_load_all(open(f"{work}/rendered.yaml")) if d]
passwords = {}
def env_of(container, pod="", index=0):
    out = {}
    for e in container.get("env", []):
        if "fieldRef" in e.get("valueFrom", {}):
            # What the kubelet gives: the node's address, the pod's name, its StatefulSet index.
            value = {"status.hostIP": "127.0.0.1", "metadata.name": pod,
                     "metadata.labels['apps.kubernetes.io/pod-index']": str(index)}[e["valueFrom"]["fieldRef"]["fieldPath"]]
        elif "valueFrom" in e:
            ref = e["valueFrom"]["secretKeyRef"]
            value = passwords.setdefault(ref["key"], secrets.token_hex(16))
        else:
            value = re.sub(r"\$\((\w+)\)", lambda m: out[m.group(1)], e["value"])
        out[e["name"]] = value
    return out
kafka = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "kafka")
replicas = kafka["spec"].get("replicas", 1)
brokers = [env_of(kafka["spec"]["template"]["spec"]["containers"][0], f"kafka-{i}", i) for i in range(replicas)]
job = next(d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == "kafka-acls")
acl = env_of(job["spec"]["template"]["spec"]["containers"][0])
# This machine's addresses and folders instead of the cluster's (the listeners' names and
# protocols stay as rendered).
external = "EXTERNAL://" in brokers[0]["KAFKA_LISTENERS"]
ports = [{"client": free_port(), "controller": free_port(), "external": free_port()} for _ in brokers]
voters = ",".join(f"{b['KAFKA_NODE_ID']}@127.0.0.1:{p['controller']}" for b, p in zip(brokers, ports))
for i, (broker, p) in enumerate(zip(brokers, ports)):
    listeners = [f"SASL_PLAINTEXT://127.0.0.1:{p['client']}", f"CONTROLLER://127.0.0.1:{p['controller']}"]
    advertised = [f"SASL_PLAINTEXT://127.0.0.1:{p['client']}"]
    if external:
        listeners.append(f"EXTERNAL://127.0.0.1:{p['external']}")
        advertised.append(f"EXTERNAL://127.0.0.1:{p['external']}")
    broker["KAFKA_LISTENERS"] = ",".join(listeners)
    broker["KAFKA_ADVERTISED_LISTENERS"] = ",".join(advertised)
    broker["KAFKA_CONTROLLER_QUORUM_VOTERS"] = voters
    broker["KAFKA_LOG_DIRS"] = f"{work}/data-{i}"
    broker["KAFKA_HEAP_OPTS"] = "-Xmx512m -Xms256m"
    with open(f"{work}/broker-{i}.env", "w") as f:
        for k, v in broker.items():
            f.write(f"export {k}={shlex.quote(v)}\n")
acl["USACTAR_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{ports[0]['client']}"
with open(f"{work}/acl.env", "w") as f:
    for k, v in acl.items():
        f.write(f"export {k}={shlex.quote(v)}\n")
with open(f"{work}/layout", "w") as f:
    f.write(f"brokers={replicas}\nbootstrap=127.0.0.1:{ports[0]['client']}\n"
            f"external={'127.0.0.1:%d' % ports[0]['external'] if external else ''}\n")
with open(f"{work}/acl.sh", "w") as f:
    f.write(job["spec"]["template"]["spec"]["containers"][0]["args"][0])
for user, password in passwords.items():
    with open(f"{work}/{user}.properties", "w") as f:
        f.write("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
                "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
                f'required username="{user}" password="{password}";\n')
with open(f"{work}/anonymous.properties", "w") as f:
    f.write("request.timeout.ms=5000\ndefault.api.timeout.ms=10000\n")
PY

# The image's paths, on this machine.
mkdir -p "$work/opt/config"
ln -s "$USACTAR_KAFKA_LIBS" "$work/opt/libs"
sed -n "/^  cat > \"\$r\/opt\/kafka\/config\/log4j2.properties\" <<'LOG'$/,/^LOG$/p" \
  "$root/kind/sandbox/images.sh" | sed '1d;$d' > "$work/opt/config/log4j2.properties"
# local_paths CONF: the image's paths on this machine, the configuration folder CONF.
local_paths() { sed -e "s#/opt/kafka#$work/opt#g" -e "s#/tmp/kafka#$1#g" -e "s#/tmp/admin.properties#$work/admin.properties#g"; }
local_paths "$work/conf" < "$work/acl.sh" > "$work/acl-local.sh"
layout() { sed -n "s/^$1=//p" "$work/layout"; }
brokers=$(layout brokers)
bootstrap=$(layout bootstrap)
external=$(layout external)

echo "== $brokers broker(s), through the sandbox image's entrypoint (logs: $work/broker-*.log)"
for ((i = 0; i < brokers; i++)); do
  local_paths "$work/conf-$i" < "$root/kind/sandbox/rootfs/kafka-run.sh" > "$work/kafka-run-$i.sh"
  # shellcheck disable=SC1090
  (source "$work/broker-$i.env" && exec sh "$work/kafka-run-$i.sh") > "$work/broker-$i.log" 2>&1 &
  broker_pids+=($!)
done
# A KRaft broker starts once the quorum has a leader: all of them together, as the
# StatefulSet's parallel start does.
for ((i = 0; i < brokers; i++)); do
  for _ in $(seq 180); do
    grep -q "Kafka Server started" "$work/broker-$i.log" && break
    kill -0 "${broker_pids[$i]}" 2>/dev/null || { cat "$work/broker-$i.log"; fail "broker $i exited"; }
    sleep 1
  done
  grep -q "Kafka Server started" "$work/broker-$i.log" || fail "broker $i did not start in 180 s"
  if grep -q "password=\"[0-9a-f]" "$work/broker-$i.log"; then fail "a password is in broker $i's log"; fi
done

echo "== the Job's script"
# shellcheck disable=SC1091
(source "$work/acl.env" && sh "$work/acl-local.sh") > "$work/acl.log" 2>&1 || { cat "$work/acl.log"; fail "the ACL Job failed"; }
tail -1 "$work/acl.log"

sed 's/^rootLogger.level = info$/rootLogger.level = warn/' "$work/opt/config/log4j2.properties" > "$work/tools-log4j2.properties"
tool() { java -cp "$USACTAR_KAFKA_LIBS/*" -Dlog4j2.configurationFile="$work/tools-log4j2.properties" "$@"; }

echo "== no user: nothing"
if tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
  --command-config "$work/anonymous.properties" --list > "$work/anonymous.log" 2>&1; then
  fail "a client without a user listed the topics: $(cat "$work/anonymous.log")"
fi
echo "refused: $(grep -m1 -o 'TimeoutException[^.]*' "$work/anonymous.log" || tail -1 "$work/anonymous.log")"

# produce USER KEY:VALUE, consume USER GROUP: Kafka's console tools as that user; the output
# goes to $work/<what>.log.
produce() {
  echo "$2" | tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$bootstrap" \
    --producer.config "$work/$1.properties" --topic predictions \
    --property parse.key=true --property key.separator=: 2>&1 || true
}
consume() {
  tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$bootstrap" \
    --consumer.config "$work/$1.properties" --group "$2" --topic predictions \
    --from-beginning --max-messages 1 --timeout-ms 20000 2>&1 || true
}
# refused LOG EXCEPTION WHAT: the tool's output names the refusal.
refused() {
  grep -q "$2" "$1" || fail "$3: $(cat "$1")"
  echo "refused: $(grep -m1 -o "$2[^(]*" "$1")"
}

echo "== ingest writes the topic"
produce ingest "Argentina-France:usactar-sasl-check" > "$work/ingest.log"
if grep -q "AuthorizationException\|ERROR" "$work/ingest.log"; then fail "ingest could not write: $(cat "$work/ingest.log")"; fi

echo "== logs-writer reads it in its own group"
consume logs-writer logs > "$work/read.log"
grep -q "usactar-sasl-check" "$work/read.log" || fail "logs-writer did not read ingest's record: $(cat "$work/read.log")"
echo "read: $(grep -m1 usactar-sasl-check "$work/read.log")"

echo "== logs-writer may not write the topic"
produce logs-writer "k:v" > "$work/write.log"
refused "$work/write.log" TopicAuthorizationException "logs-writer wrote the topic"

echo "== logs-writer may not read live-forwarder's group"
consume logs-writer live > "$work/group.log"
refused "$work/group.log" GroupAuthorizationException "logs-writer read group live"

if [ -n "$external" ]; then
  echo "== the EXTERNAL listener: the administrator gets in, no one else"
  # topics_via USER: the topics as USER sees them through EXTERNAL, into $work/external-USER.log.
  topics_via() {
    tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$external" \
      --command-config "$work/$1.properties" --list > "$work/external-$1.log" 2>&1
  }
  topics_via usactar-admin || fail "the administrator could not list the topics through EXTERNAL: $(cat "$work/external-usactar-admin.log")"
  grep -qx predictions "$work/external-usactar-admin.log" || fail "no topic predictions through EXTERNAL: $(cat "$work/external-usactar-admin.log")"
  echo "the administrator lists: $(paste -sd' ' "$work/external-usactar-admin.log")"
  if topics_via ingest; then fail "ingest logged in through EXTERNAL: $(cat "$work/external-ingest.log")"; fi
  refused "$work/external-ingest.log" SaslAuthenticationException "ingest through EXTERNAL"
  if topics_via anonymous; then fail "a client without a user listed the topics through EXTERNAL"; fi
  echo "refused: a client without a user"
fi

if [ "$brokers" -gt 1 ]; then
  echo "== the topic ingest made: $brokers replicas, all in sync"
  tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
    --command-config "$work/usactar-admin.properties" --describe --topic predictions > "$work/describe.log" 2>&1 ||
    fail "describing the topic: $(cat "$work/describe.log")"
  python3 - "$work/describe.log" "$brokers" <<'PY' || fail "replicas: $(cat "$work/describe.log")"
import re, sys
text, n = open(sys.argv[1]).read(), int(sys.argv[2])
parts = re.findall(r"Partition: (\d+).*?Replicas: ([\d,]+)\s+Isr: ([\d,]+)", text)
assert parts, "no partition"
for p, replicas, isr in parts:
    assert len(replicas.split(",")) == n and sorted(isr.split(",")) == sorted(replicas.split(",")), (p, replicas, isr)
print(f"{len(parts)} partitions, each on {n} brokers, all in sync")
PY
fi

echo "PASS"
