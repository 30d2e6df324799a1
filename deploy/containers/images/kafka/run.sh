#!/bin/bash
# The official apache/kafka image's configuration by environment: every KAFKA_<NAME> variable is the
# property <name> ('_' -> '.', '__' -> '_', '___' -> '-'), CLUSTER_ID formats the log directory on
# first start; KAFKA_HEAP_OPTS and KAFKA_OPTS go to the JVM.
set -euo pipefail
config=/opt/kafka/config/server.properties
: >"$config"
while IFS='=' read -r name value; do
    case $name in
    KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_LOG4J_OPTS) continue ;;
    KAFKA_*) ;;
    *) continue ;;
    esac
    property=${name#KAFKA_}
    property=${property,,}
    property=${property//___/-}
    property=${property//__/@}
    property=${property//_/.}
    property=${property//@/_}
    printf '%s=%s\n' "$property" "$value" >>"$config"
done < <(env)
classpath='/opt/kafka/libs/*'
java -cp "$classpath" kafka.tools.StorageTool format --ignore-formatted \
    -t "${CLUSTER_ID:?CLUSTER_ID must be set}" -c "$config" >/dev/null
# shellcheck disable=SC2086  # the options are words on purpose, as in kafka-run-class.sh
exec java ${KAFKA_HEAP_OPTS:--Xms512m -Xmx512m} ${KAFKA_OPTS:-} -cp "$classpath" kafka.Kafka "$config"
