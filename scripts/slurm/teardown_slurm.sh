#!/usr/bin/env bash
# Stop the daemons that setup_slurm.sh started (by the pids it recorded) and restore /etc/slurm.
set -uo pipefail
BASE=${SLURM_BASE:-/tmp/eatnas-slurm}
PIDS="$BASE/started.pids"
[ -f "$PIDS" ] || { echo "teardown_slurm.sh: no $PIDS; nothing to stop"; exit 0; }
command -v scancel >/dev/null && scancel --user root >/dev/null 2>&1 || true
# reverse start order: slurmd, slurmctld, munged
tac "$PIDS" | while read -r name pid; do
  [ -n "${pid:-}" ] || continue
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    echo "stopped $name ($pid)"
  fi
done
for f in slurm.conf gres.conf; do
  if [ -e "$BASE/$f.orig" ]; then cp -p "$BASE/$f.orig" "/etc/slurm/$f"; else rm -f "/etc/slurm/$f"; fi
done
rm -f "$PIDS"
