# Sourced by the scripts: where installs, builds and state live. Each can be overridden.
export USACTAR_HOME="${USACTAR_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/usactar}"
export USACTAR_KAFKA_VERSION="${USACTAR_KAFKA_VERSION:-4.1.1}"
export USACTAR_FERRETDB_VERSION="${USACTAR_FERRETDB_VERSION:-v1.24.2}"
export USACTAR_TOXIPROXY_VERSION="${USACTAR_TOXIPROXY_VERSION:-v2.12.0}"
export USACTAR_KAFKA_LIBS="${USACTAR_KAFKA_LIBS:-$USACTAR_HOME/kafka-$USACTAR_KAFKA_VERSION/libs}"
# One target folder outside the clone, so a fresh clone (CI) reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$USACTAR_HOME/target}"
# No incremental compilation: CI and scripts/run build each source once, and its caches grew the
# shared target folder by gigabytes per checkout on a disk that was nearly full.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
