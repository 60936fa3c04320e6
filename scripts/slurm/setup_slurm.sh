#!/usr/bin/env bash
# Start a single-node SLURM cluster on loopback (munge + slurmctld + slurmd, no accounting database) with
# NGPU fake GPUs, for tests and demos. Debian/Ubuntu, run as root; no systemd needed.
#   SLURM_BASE=/tmp/eatnas-slurm  state, spool, logs, fake GPU device links, started.pids (for teardown)
#   NGPU=8   fake GPUs declared as gres/gpu (symlinks to /dev/null: SLURM needs char devices)
#   NCPU=8   CPUs declared (may exceed nproc: SlurmdParameters=config_overrides)
# Status polling must use squeue (no slurmdbd): snakemake ... --slurm-status-command squeue
# Stop with scripts/slurm/teardown_slurm.sh (kills only the daemons listed in started.pids).
set -euo pipefail
BASE=${SLURM_BASE:-/tmp/eatnas-slurm}
NGPU=${NGPU:-8}
NCPU=${NCPU:-8}
MEM=${MEM:-$(( $(free -m | awk '/^Mem:/{print $2}') * 8 / 10 ))}
CLUSTER=${CLUSTER:-eatnas}
H=$(hostname -s)
export DEBIAN_FRONTEND=noninteractive

[ "$(id -u)" = 0 ] || { echo "setup_slurm.sh: must run as root" >&2; exit 3; }
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
   || ! command -v sbatch >/dev/null; then
  command -v apt-get >/dev/null || { echo "setup_slurm.sh: SLURM is not installed and apt-get is missing" >&2; exit 3; }
  PKGS="slurmctld slurmd slurm-client munge"
  apt-get install -y -q --no-install-recommends $PKGS >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $PKGS >/dev/null; }
fi

running=$(pgrep -x 'slurmctld|slurmd' | tr '\n' ' ' || true)
if [ -n "$running" ]; then
  echo "setup_slurm.sh: SLURM daemons are already running (pids: $running); stop them first (teardown_slurm.sh with their SLURM_BASE)" >&2
  exit 4
fi
if [ -s "$BASE/started.pids" ]; then
  echo "setup_slurm.sh: $BASE/started.pids exists: a cluster from a previous run is up; run teardown_slurm.sh first" >&2
  exit 4
fi
rm -rf "$BASE"
mkdir -p "$BASE"/{state,spool,log,fakegpu}
: > "$BASE/started.pids"

# ---- munge (reuse a running munged; otherwise start one and remember its pid) ----
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
fi
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
  runuser -u munge -- /usr/sbin/munged
  for i in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  echo "munged $(cat /run/munge/munged.pid)" >> "$BASE/started.pids"
  munge -n | unmunge >/dev/null
fi

# ---- fake GPUs: gres/gpu is dropped unless File= points at character devices ----
for i in $(seq 0 $((NGPU-1))); do ln -sfn /dev/null "$BASE/fakegpu/nvidia$i"; done

# ---- slurm.conf / gres.conf (backed up and restored by teardown) ----
mkdir -p /etc/slurm
for f in slurm.conf gres.conf; do
  [ -e "/etc/slurm/$f" ] && cp -p "/etc/slurm/$f" "$BASE/$f.orig"
done
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=$CLUSTER
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=600
SlurmctldPidFile=$BASE/state/slurmctld.pid
SlurmdPidFile=$BASE/state/slurmd.pid
SlurmdSpoolDir=$BASE/spool
StateSaveLocation=$BASE/state
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
GresTypes=gpu
NodeName=$H NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$MEM Gres=gpu:$NGPU State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
CONF
cat > /etc/slurm/gres.conf <<CONF
AutoDetect=off
NodeName=$H Name=gpu File=$BASE/fakegpu/nvidia[0-$((NGPU-1))]
CONF

# ---- daemons (they daemonize; pids from their pid files) ----
slurmctld
for i in $(seq 50); do [ -s "$BASE/state/slurmctld.pid" ] && break; sleep 0.1; done
echo "slurmctld $(cat "$BASE/state/slurmctld.pid")" >> "$BASE/started.pids"
slurmd
for i in $(seq 50); do [ -s "$BASE/state/slurmd.pid" ] && break; sleep 0.1; done
echo "slurmd $(cat "$BASE/state/slurmd.pid")" >> "$BASE/started.pids"

for i in $(seq 60); do
  st=$(sinfo -h -N -o %T 2>/dev/null || true)
  case "$st" in
    idle*) break ;;
    *drain*|*inval*) scontrol update nodename="$H" state=resume >/dev/null 2>&1 || true ;;
  esac
  sleep 1
done
sinfo -N -o '%N %T %c %m %G'
srun -t 1 hostname >/dev/null && echo "SLURM up (base $BASE, $NGPU fake GPUs, $NCPU CPUs)"
