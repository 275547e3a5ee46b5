#!/usr/bin/env bash
# Bring up a single-node SLURM cluster on this machine (Debian's slurm-wlm 22.05, munge, slurmdbd and
# MariaDB for accounting, so that `sacct` works), without systemd or cgroups. Used by the SLURM tests;
# also handy to try `--profile profiles/slurm` on a workstation. Needs root. Re-runnable: running
# munged/mariadbd/slurmdbd are kept; slurmctld and slurmd are restarted so a new slurm.conf applies.
#   INSTALL=1 (default) installs missing packages with apt.
#   CLUSTER, PARTITION, ACCOUNT name the cluster, its partition and the default account.
set -euo pipefail
CLUSTER=${CLUSTER:-growthpace}
PARTITION=${PARTITION:-debug}
ACCOUNT=${ACCOUNT:-default}
LOG=/var/log/slurm
export DEBIAN_FRONTEND=noninteractive

[ "$(id -u)" = 0 ] || { echo "start-local-cluster: needs root" >&2; exit 2; }
pkgs="slurm-wlm slurmctld slurmd slurm-client munge slurmdbd mariadb-server"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  [ "${INSTALL:-1}" = 1 ] || { echo "start-local-cluster: missing packages:$missing" >&2; exit 2; }
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# A process counts as running unless it is gone or a zombie (PID 1 here may not reap orphans).
running() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
alive() { [ -s "$1" ] && running "$(cat "$1")"; }
stop_pidfile() {
  local pid; pid=$(cat "$1" 2>/dev/null) || return 0
  [ -n "$pid" ] && running "$pid" || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do running "$pid" || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

# --- munge ---------------------------------------------------------------------------------------
[ -s /etc/munge/munge.key ] || /usr/sbin/mungekey --create 2>/dev/null \
  || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
alive /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
for _ in $(seq 50); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.2; done

# --- slurm.conf for this host ------------------------------------------------------------------------
HOST=$(hostname -s)
NODELINE=$(slurmd -C | head -1)
REALMEM=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$NODELINE")
NODELINE=$(sed "s/RealMemory=[0-9]*/RealMemory=$(( REALMEM * 85 / 100 ))/" <<<"$NODELINE")
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd $LOG
cat > /etc/slurm/slurm.conf <<CONF
# written by growthpace scripts/slurm/start-local-cluster.sh
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageEnforce=associations
# Keep each job's --comment (the SLURM executor plugin writes rule_{rule} there): sacct then tells rules apart.
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=600
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
Waittime=0
$NODELINE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF

# --- accounting: MariaDB + slurmdbd (slurmctld refuses to start without them on a fresh state) -------
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
if ! mariadb -e 'select 1' >/dev/null 2>&1; then
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null 2>&1 || true
  nohup /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 >$LOG/mariadb.log 2>&1 &
  echo $! > /run/growthpace-mariadbd.pid
  for _ in $(seq 100); do mariadb -e 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
fi
mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
            CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
LogFile=$LOG/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
CONF
chmod 600 /etc/slurm/slurmdbd.conf
alive /run/slurmdbd.pid || /usr/sbin/slurmdbd
up=0
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/6819) 2>/dev/null && { up=1; break; }; sleep 0.2; done
[ $up = 1 ] || { echo "start-local-cluster: slurmdbd did not come up:" >&2; tail -5 $LOG/slurmdbd.log >&2; exit 1; }
sacctmgr -i -Q add cluster "$CLUSTER" >/dev/null 2>&1 || true
sacctmgr -i -Q add account "$ACCOUNT" Description=default Organization=local >/dev/null 2>&1 || true
sacctmgr -i -Q add user "$(id -un)" Account="$ACCOUNT" DefaultAccount="$ACCOUNT" >/dev/null 2>&1 || true

# --- controller and node daemon -----------------------------------------------------------------------
stop_pidfile /run/slurmd.pid
stop_pidfile /run/slurmctld.pid
/usr/sbin/slurmctld
/usr/sbin/slurmd
for _ in $(seq 150); do
  case "$(sinfo -h -N -o %T 2>/dev/null | head -1)" in idle*|mixed*|allocated*) break;; esac
  sleep 0.2
done
scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true
sinfo -h -N -o "%N %T %c cpus %m MB" | sed 's/^/start-local-cluster: /'
