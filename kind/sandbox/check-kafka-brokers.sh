#!/usr/bin/env bash
# Issue 15 M6 on the sandbox clusters (up.sh first): GKE's three-broker Kafka
# (deploy/components/kafka-three-brokers, with Kafka's users on each broker:
# kafka-sasl-three-brokers) on cluster a, a real Kubernetes 1.33. Replaces the
# one-broker Kafka by three (their data folders emptied: a broker's folder remembers its node
# id) and live-store's offsets in Redis (they belonged to the old topic), restarts ingest so it
# creates the topic again, and checks, failing on any miss:
#   1. the three brokers become ready (node ids from the pod-index label, quorum of three);
#   2. the topic has 6 partitions, replication factor 3 on every one, all in sync, and
#      min.insync.replicas 2 (the brokers' default);
#   3. with one broker deleted while predictions arrive, every POST is answered 202 and every
#      accepted prediction reaches Redis and MongoDB in cluster b (acks=all with 2 in sync).
# Then puts the one-broker Kafka back (deploy/overlays/kind/sandbox/a), its data emptied too.
#   kind/sandbox/check-kafka-brokers.sh [--keep]   # --keep: leave the three brokers running
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
# shellcheck source=kind/sandbox/cluster.sh
. "$here/cluster.sh"
use_clusters
keep=0
[ "${1:-}" = --keep ] && keep=1
a=(kubectl --context kind-usactar-a)
b=(kubectl --context kind-usactar-b)
cluster_vars usactar-a

# fresh_kafka OVERLAY: Kafka as OVERLAY has it, on emptied volumes, with its ACLs granted again;
# then ingest and the consumers restarted (the topic and the groups' offsets went with the old
# brokers' data).
fresh_kafka() {
  "${a[@]}" -n usactar-data delete statefulset kafka --ignore-not-found --wait=true >/dev/null
  "${a[@]}" -n usactar-data delete pod -l app.kubernetes.io/name=kafka --ignore-not-found --wait=true >/dev/null
  "${a[@]}" -n usactar-data get pvc -o name | grep '/data-kafka-' | xargs -r "${a[@]}" -n usactar-data delete --wait=true >/dev/null
  # The volumes keep their data (Retain): empty the released ones and make them free again.
  local pv
  for pv in $("${a[@]}" get pv -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\n"}{end}'); do
    find "$D/pv/${pv##*-}" -mindepth 1 -delete
    "${a[@]}" patch pv "$pv" --type json -p '[{"op": "remove", "path": "/spec/claimRef"}]' >/dev/null
  done
  # The new brokers' topic starts again at offset 0, but live-store remembers the highest offset
  # it applied per topic and partition (its exactly-once guard, issue 15 H2), and would drop the
  # new records as replays: an operator replacing Kafka's data must forget them too.
  "${b[@]}" -n usactar-data exec redis-0 -c redis -- redis-cli DEL offsets >/dev/null
  # Kafka keeps its ACLs in its metadata log, which went with the data: the Job grants them
  # again (deploy/components/kafka-sasl/acl-job.yaml), before the services meet the brokers.
  "${a[@]}" -n usactar-data delete job kafka-acls --ignore-not-found --wait=true >/dev/null
  kubectl kustomize "$1" | "${a[@]}" apply -f - >/dev/null
  "${a[@]}" -n usactar-data rollout status statefulset/kafka --timeout 5m
  "${a[@]}" -n usactar-data wait --for=condition=complete job/kafka-acls --timeout 5m >/dev/null
  "${a[@]}" -n usactar-ingest rollout restart deploy/ingest >/dev/null
  "${a[@]}" -n usactar-pipeline rollout restart deploy/consumer >/dev/null
  "${a[@]}" -n usactar-ingest rollout status deploy/ingest --timeout 5m
  "${a[@]}" -n usactar-pipeline rollout status deploy/consumer --timeout 5m
}
# Kafka's own tools in kafka-0, as the administrator (deploy/components/kafka-sasl): the broker's
# own variable holds the password, which goes into a file only the broker's user reads, inside
# the pod; never onto a command line nor out of the pod.
kafka_tool() {
  # shellcheck disable=SC2016 # expanded by the pod's shell
  "${a[@]}" -n usactar-data exec kafka-0 -- sh -c '
    umask 077
    config=/tmp/admin-tool.properties
    printf "%s\n" security.protocol=SASL_PLAINTEXT sasl.mechanism=PLAIN \
      "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"usactar-admin\" password=\"$USACTAR_PASSWORD_ADMIN\";" >"$config"
    exec java -cp "/opt/kafka/libs/*" "$@" --bootstrap-server localhost:9092 --command-config "$config"' sh "$@"
}

t0=$(now)
fresh_kafka deploy/overlays/kind/sandbox/a-three-brokers
echo "three brokers ready after $(( $(now) - t0 ))s"
ready=$("${a[@]}" -n usactar-data get statefulset kafka -o jsonpath='{.status.readyReplicas}')
check "three brokers ready" [ "$ready" = 3 ]
# ingest creates the topic at start; one prediction makes sure it exists before describing it.
curl -fsS -o /dev/null -XPOST http://172.30.0.11/input -H 'content-type: application/json' \
  -d '{"team1":"Argentina","team2":"France","score":"3-3","phase":4}'
describe=$(kafka_tool org.apache.kafka.tools.TopicCommand --describe --topic predictions)
while IFS= read -r line; do echo "    $line"; done <<<"$describe"
partitions=$(echo "$describe" | grep -c 'Partition: ' || true)
full=$(echo "$describe" | grep 'Partition: ' | awk '{for (i = 1; i <= NF; i++) {if ($i == "Replicas:") r = $(i + 1); if ($i == "Isr:") s = $(i + 1)}; if (split(r, x, ",") == 3 && split(s, y, ",") == 3) n++} END {print n + 0}')
# 6: ingest's USACTAR_TOPIC_PARTITIONS, and the brokers' default should a client ask first.
check "the topic has 6 partitions ($partitions), each on 3 replicas all in sync ($full)" [ "$partitions" = 6 ] && [ "$full" = 6 ]
# The topic's description names the configs that apply to it, the broker's default included.
min_isr=$(grep -o 'min.insync.replicas=[0-9]*' <<<"$describe" | head -n 1 | cut -d= -f2)
check "the topic's min.insync.replicas is 2 ($min_isr)" [ "$min_isr" = 2 ]

# One broker down while predictions arrive.
trap stop_port_forwards EXIT
store_forwards 27417 6779
# The stores settled first: the prediction posted before describing the topic may still be on
# its way (the consumers started with the brokers), and would count as one of the 300.
r0=$(store_total); m0=$(store_documents)
for _ in $(seq 30); do
  sleep 2
  [ "$(store_total)" = "$r0" ] && [ "$(store_documents)" = "$m0" ] && break
  r0=$(store_total); m0=$(store_documents)
done
codes=$(mktemp)
(for i in $(seq 300); do
  curl -sS -o /dev/null -w '%{http_code}\n' -XPOST http://172.30.0.11/input -H 'content-type: application/json' \
    -d "{\"team1\":\"Argentina\",\"team2\":\"France\",\"score\":\"$((i % 5))-1\",\"phase\":4}"
  sleep 0.05
done) > "$codes" &
sender=$!
sleep 3
"${a[@]}" -n usactar-data delete pod kafka-1 --wait=false >/dev/null
echo "kafka-1 deleted at $(date +%T) while predictions arrive"
wait "$sender"
accepted=$(grep -c '^202$' "$codes" || true)
echo "answers: $(sort "$codes" | uniq -c | awk '{printf "%s x%s  ", $2, $1}')"
check "every one of the 300 POSTs answered 202 with a broker down" [ "$accepted" = 300 ]
for _ in $(seq 120); do
  [ $(( $(store_total) - r0 )) -ge "$accepted" ] && [ $(( $(store_documents) - m0 )) -ge "$accepted" ] && break
  sleep 1
done
r=$(( $(store_total) - r0 )); m=$(( $(store_documents) - m0 ))
echo "accepted $accepted; Redis +$r, MongoDB +$m"
check "Redis counted exactly the accepted predictions" [ "$r" = "$accepted" ]
check "MongoDB logged exactly the accepted predictions" [ "$m" = "$accepted" ]
"${a[@]}" -n usactar-data rollout status statefulset/kafka --timeout 5m >/dev/null
rm -f "$codes"

if [ "$keep" = 0 ]; then
  echo "putting the one-broker Kafka back"
  fresh_kafka deploy/overlays/kind/sandbox/a
fi
echo "check-kafka-brokers.sh: $([ "$failed" = 0 ] && echo passed || echo FAILED) in $(( $(now) - t0 ))s"
exit "$failed"
