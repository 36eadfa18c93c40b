#!/bin/bash
# in_root.sh: runs as PID 1 of a private PID, network, mount and UTS namespace, chrooted
# into a Debian root where LCR's packages are installed (install_root.sh). It enables the
# plugin with its plugstack line only, starts MUNGE and a two-node Slurm cluster from the
# distribution's packages (slurmctld, two `slurmd -N`) on the namespace's loopback, and
# runs one protected step as an unprivileged user: `srun -N2 --lcr=on` of lcrctl status.
# Its output, and the Slurm logs on failure, go to stdout. The cluster ends with the
# namespace.
set -euo pipefail

say() { echo "in_root: $*"; }
fail() { echo "in_root: FAIL: $*"; tail -n 30 /var/log/slurm/*.log 2>/dev/null; exit 1; }

enable_plugin() {
	sed -i 's|^#required spank_lcr.so |required spank_lcr.so |' /etc/slurm/plugstack.conf.d/lcr.conf
	grep -q '^required spank_lcr.so' /etc/slurm/plugstack.conf.d/lcr.conf ||
		fail "no plugstack line to uncomment in /etc/slurm/plugstack.conf.d/lcr.conf"
}

start_munge() {
	[ -s /etc/munge/munge.key ] || {
		dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
		chown munge:munge /etc/munge/munge.key
		chmod 0400 /etc/munge/munge.key
	}
	mkdir -p /run/munge
	chown munge:munge /run/munge
	timeout 30 runuser -u munge -- /usr/sbin/munged || fail "munged did not start"
	say "munged started"
}

write_slurm_conf() {
	mkdir -p /var/lib/slurm/slurmctld /var/lib/slurm/slurmd/n1 /var/lib/slurm/slurmd/n2 /var/log/slurm
	cat >/etc/slurm/slurm.conf <<-CONF
	ClusterName=lcrpkg
	SlurmctldHost=$(hostname)(127.0.0.1)
	SlurmUser=root
	AuthType=auth/munge
	StateSaveLocation=/var/lib/slurm/slurmctld
	SlurmdSpoolDir=/var/lib/slurm/slurmd/%n
	SlurmctldPidFile=/run/slurmctld.pid
	SlurmdPidFile=/run/slurmd-%n.pid
	SlurmctldLogFile=/var/log/slurm/slurmctld.log
	SlurmdLogFile=/var/log/slurm/slurmd-%n.log
	ProctrackType=proctrack/linuxproc
	TaskPlugin=task/none
	SelectType=select/cons_tres
	SelectTypeParameters=CR_Core
	SlurmdParameters=config_overrides
	MpiDefault=none
	ReturnToService=2
	JobCompType=jobcomp/none
	AccountingStorageType=accounting_storage/none
	JobAcctGatherType=jobacct_gather/none
	NodeName=n1 NodeAddr=127.0.0.1 NodeHostname=$(hostname) Port=17801 CPUs=2 RealMemory=500
	NodeName=n2 NodeAddr=127.0.0.1 NodeHostname=$(hostname) Port=17802 CPUs=2 RealMemory=500
	PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
	CONF
}

start_slurm() {
	local daemon
	for daemon in "slurmctld -i" "slurmd -N n1" "slurmd -N n2"; do
		timeout 30 $daemon || fail "$daemon did not start"
		say "$daemon started"
	done
	local deadline=$((SECONDS + 60))
	while [ $SECONDS -lt $deadline ]; do
		[ "$(timeout 10 sinfo -h -N -o '%t' 2>/dev/null | grep -c '^idle$')" = 2 ] && return 0
		sleep 0.2
	done
	timeout 10 sinfo -N || true
	fail "the two nodes did not become idle within 60 s"
}

echo "127.0.0.1 $(hostname) localhost" >/etc/hosts
enable_plugin
start_munge
write_slurm_conf
start_slurm
id lcruser >/dev/null 2>&1 || useradd --create-home --shell /bin/bash lcruser
# Each task prints its node's helper (lcrctl finds it from SLURMD_NODENAME) and the
# program of that helper process (argv[0]).
say "srun -N2 -n2 --lcr=on: lcrctl status, and the helper's command line"
cd /home/lcruser
timeout 120 runuser -u lcruser -- srun -N2 -n2 --lcr=on bash -c '
	status=$(lcrctl status) || exit 1
	echo "$status"
	pid=$(sed -n "s/^node .* pid \([0-9]*\) uid .*/\1/p" <<<"$status")
	echo "helper $(tr "\0" "\n" </proc/$pid/cmdline | head -n 1)"' 2>&1 ||
	fail "the protected step failed"
say "step done"
