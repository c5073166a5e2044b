#!/usr/bin/env bash
# A single-node Slurm cluster for the tests, in a folder of its own.
#
#   .ci/slurm.sh start [DIR]   write DIR/slurm.conf, start munged, slurmctld and slurmd,
#                              wait until the node is idle; prints `export SLURM_CONF=...`
#   .ci/slurm.sh stop [DIR]    stop the three daemons started in DIR
#
# DIR defaults to $ALFRED_SLURM_DIR or /tmp/alfred-slurm. Needs root and Debian's
# slurmctld, slurmd, slurm-client and munge packages. No systemd, no cgroups: the daemons
# are started directly and track processes through /proc.
set -euo pipefail

action=${1:-}
dir=$(realpath -m "${2:-${ALFRED_SLURM_DIR:-/tmp/alfred-slurm}}")
node=$(hostname -s)
port=${ALFRED_SLURM_PORT:-6817}

stop() {
  local pids=() pid_file pid
  for pid_file in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    pid=$(cat "$pid_file" 2>/dev/null || true)
    if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
      pids+=("$pid")
    fi
    rm -f "$pid_file"
  done
  for _ in $(seq 100); do
    local alive=0
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
  done
}

write_config() {
  local cpus memory
  cpus=$(( $(nproc) > 8 ? $(nproc) : 8 ))
  memory=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
  cat >"$dir/slurm.conf" <<EOF
ClusterName=alfredtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket.2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
EnforcePartLimits=ALL
MailProg=/bin/true
ReturnToService=2
KillWait=5
MinJobAge=30
SlurmdParameters=config_overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  # Without cgroups in use, slurmd still reads this file when it exists.
  echo "CgroupPlugin=autodetect" >"$dir/cgroup.conf"
}

start() {
  stop
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
  chmod 755 "$dir" "$dir/munge"
  write_config
  export SLURM_CONF=$dir/slurm.conf

  if [ ! -f "$dir/munge/munge.key" ]; then
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  fi
  chmod 400 "$dir/munge/munge.key"
  munged --force --socket="$dir/munge/munge.socket.2" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/munged.seed"

  slurmctld -i
  slurmd -N "$node"

  for _ in $(seq 300); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -n1 || true)
    if [ "$state" = idle ]; then
      echo "export SLURM_CONF=$SLURM_CONF"
      return 0
    fi
    sleep 0.1
  done
  echo "slurm.sh: the node did not become idle in 30 s (state: ${state:-none});" \
    "see $dir/slurmctld.log and $dir/slurmd.log" >&2
  return 1
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac
