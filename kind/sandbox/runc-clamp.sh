#!/usr/bin/env bash
# runc, named by containerd's runc option BinaryName on the sandbox nodes: before runc creates
# a container or runs a process in one, clamps in its spec what this machine does not allow
# (it withholds CAP_SYS_RESOURCE): an oom_score_adj below this process's own (kubelet asks -998
# for pod sandboxes) is raised to it, and RLIMIT_NOFILE (containerd asks 1,048,576) is lowered
# to this process's hard limit. Everything else is runc's.
set -euo pipefail
spec=""
prev=""
for a in "$@"; do
  case $prev in
    --bundle|-b) spec=$a/config.json ;;
    --process|-p) spec=$a ;;
  esac
  case $a in
    --bundle=*) spec=${a#--bundle=}/config.json ;;
    --process=*) spec=${a#--process=} ;;
  esac
  prev=$a
done
if [ -n "$spec" ] && [ -f "$spec" ]; then
  hard=$(ulimit -Hn)
  own=$(cat /proc/self/oom_score_adj)
  jq -c --argjson hard "$hard" --argjson own "$own" '
    def clamp: (if (.oomScoreAdj // null) != null and .oomScoreAdj < $own then .oomScoreAdj = $own else . end)
      | (if .rlimits then .rlimits |= map(if .type == "RLIMIT_NOFILE"
           then .hard = ([.hard, $hard] | min) | .soft = ([.soft, $hard] | min) else . end) else . end);
    if .process then .process |= clamp else clamp end' "$spec" > "$spec.clamped"
  mv "$spec.clamped" "$spec"
fi
exec runc "$@"
