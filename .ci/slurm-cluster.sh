# Sourced by .ci/run: a one-node Slurm cluster (slurmctld, slurmd, munged)
# with every file under one temporary directory, for the Slurm end-to-end
# test (TINYSCALE_SLURM_E2E). What works on a container without systemd or
# cgroups is measured in ../shared/docs/slurm-notes.md. Daemons are started
# in the foreground in the background, recorded by PID, and stopped by
# those PIDs (never by name).
#
#   slurm_cluster_start   installs slurm-wlm and munge if needed, starts the
#                         cluster, exports SLURM_CONF; returns non-zero
#                         (cluster stopped again) when it cannot
#   slurm_cluster_stop    cancels all jobs, then stops the daemons

SLURM_CI_DIR=""
SLURM_CI_PIDS=()

slurm_cluster_install() {
  command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 && command -v mungekey >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || { echo "ci: no apt-get to install slurm-wlm" >&2; return 1; }
  # The packages try to start their services (no systemd here): harmless.
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=120 \
      --no-install-recommends slurm-wlm munge) >"${TMPDIR:-/tmp}/ci-slurm-apt.log" 2>&1 \
    || { echo "ci: apt-get install slurm-wlm munge failed:" >&2; tail -5 "${TMPDIR:-/tmp}/ci-slurm-apt.log" >&2; return 1; }
}

slurm_cluster_start() {
  if [ "$(id -u)" != 0 ]; then
    echo "ci: not root: no Slurm cluster (the Slurm end-to-end test is skipped)" >&2
    return 1
  fi
  slurm_cluster_install || return 1
  SLURM_CI_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tinyscale-slurm.XXXXXX")
  local d=$SLURM_CI_DIR
  mkdir -p "$d/state" "$d/spool" "$d/log"
  mungekey --create --keyfile="$d/munge.key" >/dev/null 2>&1 || { echo "ci: mungekey failed" >&2; slurm_cluster_stop; return 1; }
  chmod 600 "$d/munge.key"
  munged --foreground --force --socket="$d/munge.socket.2" --key-file="$d/munge.key" \
    --pid-file="$d/munged.pid" --seed-file="$d/munge.seed" --log-file="$d/log/munged.log" >"$d/log/munged.out" 2>&1 &
  SLURM_CI_PIDS+=($!)
  local i
  for i in $(seq 1 50); do
    munge -S "$d/munge.socket.2" -n 2>/dev/null | unmunge -S "$d/munge.socket.2" >/dev/null 2>&1 && break
    sleep 0.1
  done
  cat >"$d/slurm.conf" <<CONF
ClusterName=tinyscale-ci
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge.socket.2,cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
KillWait=5
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
MailProg=/bin/true
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$d/slurm.conf"
  slurmctld -D -f "$SLURM_CONF" >"$d/log/slurmctld.out" 2>&1 &
  SLURM_CI_PIDS+=($!)
  slurmd -D -f "$SLURM_CONF" -N localhost >"$d/log/slurmd.out" 2>&1 &
  SLURM_CI_PIDS+=($!)
  for i in $(seq 1 100); do
    [ "$(sinfo -h -n localhost -o %T 2>/dev/null)" = idle ] && { echo "ci: one-node Slurm cluster up in $d"; return 0; }
    sleep 0.2
  done
  echo "ci: the Slurm node did not become idle; logs:" >&2
  tail -5 "$d"/log/*.log >&2 || true
  slurm_cluster_stop
  return 1
}

slurm_cluster_stop() {
  if [ -n "${SLURM_CONF:-}" ] && [ ${#SLURM_CI_PIDS[@]} -gt 0 ]; then
    # Cancel jobs first so that no slurmstepd outlives slurmd.
    scancel --user=root >/dev/null 2>&1 || true
    local i
    for i in $(seq 1 50); do
      [ -z "$(squeue -h 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  local pid
  for pid in "${SLURM_CI_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${SLURM_CI_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  SLURM_CI_PIDS=()
  unset SLURM_CONF
  [ -n "$SLURM_CI_DIR" ] && rm -rf "$SLURM_CI_DIR"
  SLURM_CI_DIR=""
}
