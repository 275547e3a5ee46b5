#!/usr/bin/env bash
# Stop the daemons started by start-local-cluster.sh, by PID file. WIPE=1 also drops the accounting
# database and SLURM's state and logs.
set -u
running() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
if [ "${WIPE:-0}" = 1 ] && mariadb -e 'select 1' >/dev/null 2>&1; then
  mariadb -e 'DROP DATABASE IF EXISTS slurm_acct_db'
fi
for f in /run/slurmd.pid /run/slurmctld.pid /run/slurmdbd.pid /run/growthpace-mariadbd.pid /run/munge/munged.pid; do
  pid=$(cat "$f" 2>/dev/null) || continue
  [ -n "$pid" ] && running "$pid" || continue
  kill "$pid"
  for _ in $(seq 50); do running "$pid" || break; sleep 0.2; done
done
if [ "${WIPE:-0}" = 1 ]; then rm -rf /var/spool/slurmctld/* /var/spool/slurmd/* /var/log/slurm/*; fi
