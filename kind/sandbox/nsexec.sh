#!/bin/bash
# /usr/local/bin/nsexec of the chaos-daemon image. Upstream's nsexec (chaos-mesh/nsexec, Rust) is
# released on GitHub only, which this machine cannot download; this takes the flags chaos-daemon
# passes it (pkg/bpm/build_linux.go) and hands them to util-linux nsenter:
#   nsexec [-l] [-m MNT] [-i IPC] [-n NET] [-p PID] -- CMD [ARG...]
# -l (run a program of the daemon's own file system inside the target's mount namespace) needs
# upstream's LD_PRELOAD library libnsenter.so; only IOChaos, HTTPChaos, BlockChaos and JVMChaos
# use it, and they fail with the message below instead of running half-way.
set -euo pipefail
ns=()
while [ "$#" -gt 0 ]; do
  case $1 in
    -m) ns+=("--mount=$2"); shift 2 ;;
    -i) ns+=("--ipc=$2"); shift 2 ;;
    -n) ns+=("--net=$2"); shift 2 ;;
    -p) ns+=("--pid=$2"); shift 2 ;;
    -l)
      echo "nsexec: -l needs upstream nsexec's libnsenter.so, which is not in this image" >&2
      exit 125
      ;;
    --) shift; break ;;
    *) echo "nsexec: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$#" -gt 0 ] || { echo "usage: nsexec [-m MNT] [-i IPC] [-n NET] [-p PID] -- CMD [ARG...]" >&2; exit 2; }
exec nsenter "${ns[@]}" -- "$@"
