# The servers `experiments up` runs, for the dev shell: the stack finds each one on PATH first
# (crates/stack), so entering `nix develop` is the whole install. Exactly what the stack runs:
# Kafka (with Java 17 and the Prometheus JMX exporter agent), FerretDB 1.24, Redis, NGINX,
# Prometheus, Toxiproxy and the four exporters.
{
  pkgs,
  lib,
  ferretdb,
}:

let
  # Kafka 4.1, the series scripts/setup installs from Maven Central (nixpkgs' `apacheKafka` is a
  # newer series; the stack runs either, this keeps the two install paths alike).
  kafka = pkgs.apacheKafka_4_1;

  # The broker's metrics: the agent scripts/setup fetches beside Kafka's jars (platform/kafka).
  # The hash is of the jar Maven fetched, whose SHA-1 matches Maven Central's published one.
  jmxExporterAgent = pkgs.fetchurl {
    url = "https://repo1.maven.org/maven2/io/prometheus/jmx/jmx_prometheus_javaagent/1.0.1/jmx_prometheus_javaagent-1.0.1.jar";
    hash = "sha256-fWH3N/1mFhDMwUrqeXZPqh6pSjQMvI8AKbPS7eo9gME=";
  };

  # The layout scripts/setup leaves in USACTAR_KAFKA_LIBS: Kafka's jars, the agent, `.complete`.
  kafkaLibs = pkgs.runCommand "usactar-kafka-libs-${kafka.version}" { } ''
    mkdir -p $out
    ln -s ${kafka}/libs/*.jar $out/
    ln -s ${jmxExporterAgent} $out/jmx_prometheus_javaagent-1.0.1.jar
    touch $out/.complete
  '';

  java = pkgs.jdk17;

  exporters =
    with pkgs;
    [
      prometheus-redis-exporter
      prometheus-nginx-exporter
      prometheus-node-exporter
    ]
    # process-exporter reads /proc: Linux only.
    ++ lib.optionals stdenv.isLinux [ prometheus-process-exporter ];
in
{
  packages = [
    java
    kafka
    ferretdb
    pkgs.redis
    pkgs.nginx
    pkgs.prometheus
    pkgs.toxiproxy
  ]
  ++ exporters;

  env = {
    JAVA_HOME = java.home;
    USACTAR_KAFKA_LIBS = "${kafkaLibs}";
  };

  inherit kafkaLibs;
}
