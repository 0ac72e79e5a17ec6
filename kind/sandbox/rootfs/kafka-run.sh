#!/bin/sh
# The sandbox's Kafka image entrypoint: the apache/kafka image's configuration contract on the
# jars scripts/setup fetches from Maven Central. Every KAFKA_* variable (but the JVM ones) is a
# server property: KAFKA_ dropped, lower case, "___" -> "-", "__" -> "_", "_" -> "."
# (KAFKA_LOG_DIRS -> log.dirs). KRaft storage is formatted on the first start with CLUSTER_ID
# (apache/kafka's default when unset), then the broker runs in the foreground as PID 1.
set -eu
conf=/tmp/kafka
mkdir -p "$conf"
props=$conf/server.properties
env | grep -E '^KAFKA_[A-Z0-9_]+=' | while IFS='=' read -r name value; do
  case $name in
    KAFKA_VERSION | KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_GC_LOG_OPTS | \
      KAFKA_LOG4J_OPTS | KAFKA_JMX_OPTS | KAFKA_JMX_PORT | KAFKA_JMX_HOSTNAME) continue ;;
  esac
  key=$(echo "${name#KAFKA_}" | tr '[:upper:]' '[:lower:]' | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')
  echo "$key=$value"
done > "$props"
echo "kafka-run: server.properties:"
# The JAAS configurations hold passwords (deploy/components/kafka-sasl): never in the log.
sed -e 's/\(jaas\.config=\).*/\1<hidden>/' -e 's/^/  /' "$props"

cluster_id=${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}
# As kafka-server-start.sh: a 1 GiB heap unless told otherwise, G1 with short pauses.
# shellcheck disable=SC2086  # the options are word lists, as in Kafka's own scripts
set -- java ${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G} \
  ${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true} \
  ${KAFKA_OPTS:-} -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
  -cp '/opt/kafka/libs/*'
"$@" kafka.tools.StorageTool format --ignore-formatted -t "$cluster_id" -c "$props"
exec "$@" kafka.Kafka "$props"
