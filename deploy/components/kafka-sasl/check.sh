#!/usr/bin/env bash
# Runs this component's broker and ACL Job against a real Kafka on this machine, without a
# cluster: renders deploy/overlays/kind/sandbox/a-kafka-sasl, gives the broker the environment
# Kubernetes would (random passwords for the Secrets, $(VAR) expanded), starts it through the
# sandbox image's entrypoint (kind/sandbox/rootfs/kafka-run.sh, the apache/kafka image's
# contract), runs the Job's script, then checks with Kafka's own tools that:
#   - a client without a user gets nothing;
#   - ingest can write the topic, and a record it wrote is there;
#   - logs-writer cannot write it, nor read live-forwarder's group;
#   - logs-writer reads the topic in its own group;
#   - on kind's EXTERNAL listener (deploy/components/kafka-sasl-external, the kit's lag readers),
#     only the administrator gets in.
# Only the addresses change (loopback ports instead of the Service's name), and the paths
# (the jars scripts/setup installed instead of /opt/kafka). Prints PASS or the first failure.
#
#   deploy/components/kafka-sasl/check.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"
work=$(mktemp -d)
broker_pid=
cleanup() {
  if [ -n "$broker_pid" ]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
controller=$(free_port)
external=$(free_port)

kubectl kustomize "$root/deploy/overlays/kind/sandbox/a-kafka-sasl" > "$work/rendered.yaml"
# The environment of the broker and of the Job, as the kubelet would give it.
python3 - "$work" "$port" "$controller" "$external" <<'PY'
import re, secrets, shlex, sys, yaml
work, port, controller, external = sys.argv[1:]
docs = [d for d in yaml.safe_load_all(open(f"{work}/rendered.yaml")) if d]
passwords = {}
def env_of(container):
    out = {}
    for e in container.get("env", []):
        if "fieldRef" in e.get("valueFrom", {}):
            value = "127.0.0.1"  # status.hostIP: the node's address
        elif "valueFrom" in e:
            ref = e["valueFrom"]["secretKeyRef"]
            value = passwords.setdefault(ref["key"], secrets.token_hex(16))
        else:
            value = re.sub(r"\$\((\w+)\)", lambda m: out[m.group(1)], e["value"])
        out[e["name"]] = value
    return out
kafka = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "kafka")
broker = env_of(kafka["spec"]["template"]["spec"]["containers"][0])
job = next(d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == "kafka-acls")
acl = env_of(job["spec"]["template"]["spec"]["containers"][0])
# This machine's addresses and folders instead of the cluster's (the listeners' names and
# protocols stay as rendered).
assert "EXTERNAL://" in broker["KAFKA_LISTENERS"], broker["KAFKA_LISTENERS"]
broker["KAFKA_LISTENERS"] = (f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller},"
                             f"EXTERNAL://127.0.0.1:{external}")
broker["KAFKA_ADVERTISED_LISTENERS"] = f"SASL_PLAINTEXT://127.0.0.1:{port},EXTERNAL://127.0.0.1:{external}"
broker["KAFKA_CONTROLLER_QUORUM_VOTERS"] = f"1@127.0.0.1:{controller}"
broker["KAFKA_LOG_DIRS"] = f"{work}/data"
broker["KAFKA_HEAP_OPTS"] = "-Xmx512m -Xms256m"
acl["USACTAR_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{port}"
for name, env in (("broker", broker), ("acl", acl)):
    with open(f"{work}/{name}.env", "w") as f:
        for k, v in env.items():
            f.write(f"export {k}={shlex.quote(v)}\n")
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
local_paths() { sed -e "s#/opt/kafka#$work/opt#g" -e "s#/tmp/kafka#$work/conf#g" -e "s#/tmp/admin.properties#$work/admin.properties#g"; }
local_paths < "$root/kind/sandbox/rootfs/kafka-run.sh" > "$work/kafka-run.sh"
local_paths < "$work/acl.sh" > "$work/acl-local.sh"

echo "== the broker, through the sandbox image's entrypoint (log: $work/broker.log)"
# shellcheck disable=SC1091
(source "$work/broker.env" && exec sh "$work/kafka-run.sh") > "$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 120); do
  grep -q "Kafka Server started" "$work/broker.log" && break
  kill -0 "$broker_pid" 2>/dev/null || { cat "$work/broker.log"; fail "the broker exited"; }
  sleep 1
done
grep -q "Kafka Server started" "$work/broker.log" || fail "the broker did not start in 120 s"
if grep -q "password=\"[0-9a-f]" "$work/broker.log"; then fail "a password is in the broker's log"; fi

echo "== the Job's script"
# shellcheck disable=SC1091
(source "$work/acl.env" && sh "$work/acl-local.sh") > "$work/acl.log" 2>&1 || { cat "$work/acl.log"; fail "the ACL Job failed"; }
tail -1 "$work/acl.log"

sed 's/^rootLogger.level = info$/rootLogger.level = warn/' "$work/opt/config/log4j2.properties" > "$work/tools-log4j2.properties"
tool() { java -cp "$USACTAR_KAFKA_LIBS/*" -Dlog4j2.configurationFile="$work/tools-log4j2.properties" "$@"; }
bootstrap=127.0.0.1:$port

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

echo "== the EXTERNAL listener: the administrator gets in, no one else"
# topics_via USER: the topics as USER sees them through EXTERNAL, into $work/external-USER.log.
topics_via() {
  tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$external" \
    --command-config "$work/$1.properties" --list > "$work/external-$1.log" 2>&1
}
topics_via usactar-admin || fail "the administrator could not list the topics through EXTERNAL: $(cat "$work/external-usactar-admin.log")"
grep -qx predictions "$work/external-usactar-admin.log" || fail "no topic predictions through EXTERNAL: $(cat "$work/external-usactar-admin.log")"
echo "the administrator lists: $(paste -sd' ' "$work/external-usactar-admin.log")"
if topics_via ingest; then fail "ingest logged in through EXTERNAL: $(cat "$work/external-ingest.log")"; fi
refused "$work/external-ingest.log" SaslAuthenticationException "ingest through EXTERNAL"
if topics_via anonymous; then fail "a client without a user listed the topics through EXTERNAL"; fi
echo "refused: a client without a user"

echo "PASS"
