#!/usr/bin/env bash
# supervise.sh LOG CMD...: runs CMD, appending its output to LOG, and restarts it two seconds
# after it exits, until this script gets SIGTERM (then CMD gets it too). up.sh starts each
# control-plane and node process of the sandbox clusters under one, in a session of its own.
set -uo pipefail
log=$1
shift
exec >>"$log" 2>&1 </dev/null
child=
stop() {
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null && wait "$child"
  exit 0
}
trap stop TERM INT
while :; do
  echo "[$(date +%T)] supervise: starting $1"
  "$@" &
  child=$!
  wait "$child"
  echo "[$(date +%T)] supervise: $1 exited with $?; restarting in 2s"
  child=
  sleep 2
done
