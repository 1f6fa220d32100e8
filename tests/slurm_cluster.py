"""A real single-node Slurm cluster on this machine, for tests: munge, MariaDB, slurmdbd, slurmctld, slurmd.

Everything lives in one directory (configs, state, logs, the database, the munge key and socket)
and the daemons listen on free ports, so a cluster already on the machine is neither used nor
disturbed. Each daemon runs in the foreground as our child; `stop()` ends exactly those pids.
Needs root (slurmd launches jobs as their user) and Debian's slurm-wlm, munge, slurmdbd and
mariadb-server; see docs/cluster.md.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "squeue", "sacct", "scontrol", "sinfo", "scancel")
PARTITION = "cvtest"
GPUS = 1


def missing_requirements() -> str | None:
    """Why a cluster cannot start here, or None."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "no snakemake-executor-plugin-slurm in this environment: make setup-slurm"
    if os.geteuid() != 0:
        return "the test Slurm cluster needs root (slurmd starts jobs as their user)"
    found = {name: shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin") for name in DAEMONS}
    found |= {name: shutil.which(name) for name in CLIENTS}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        return f"missing {', '.join(missing)}: apt-get install slurm-wlm munge slurmdbd mariadb-server"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no user 'munge' (the munge package creates it)"
    return None


def _binary(name: str) -> str:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin") or name


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(check, what: str, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s\n{tail}")


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class SlurmCluster:
    """A running cluster; `env` is what a client (sbatch, snakemake) needs to reach it."""

    root: Path
    host: str
    ports: dict[str, int]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        # bin/ first: its srun finds this cluster even where SLURM_CONF has been removed.
        path = f"{self.root / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        return {**os.environ, "SLURM_CONF": str(self.conf), "PATH": path}

    def run(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """A Slurm client command against this cluster; raises with its output when it fails."""
        result = subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr}")
        return result

    # --- start -----------------------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str], user: str | None = None) -> subprocess.Popen:
        log = open(self.root / "log" / f"{name}.out", "ab")
        # A new session keeps Ctrl-C of the test run from reaching the daemons before stop() does.
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=self.env, user=user, start_new_session=True
        )
        log.close()
        self.processes[name] = process
        return process

    def _alive(self, name: str) -> bool:
        if self.processes[name].poll() is None:
            return True
        out = (self.root / "log" / f"{name}.out").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{name} exited with {self.processes[name].returncode}:\n{out}")

    def start(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout

        def left() -> float:  # one budget for all steps
            return max(deadline - time.monotonic(), 1.0)

        for sub in ("etc", "log", "state", "spool", "munge", "db"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._write_configs()
        self._write_srun_wrapper()
        self._start_munge(left())
        self._start_mariadb(left())
        # slurmdbd has no -f: it reads slurmdbd.conf next to $SLURM_CONF.
        self._spawn("slurmdbd", [_binary("slurmdbd"), "-D"])
        _wait(
            lambda: self._alive("slurmdbd") and _port_open(self.ports["slurmdbd"]),
            "slurmdbd",
            left(),
            self.root / "log" / "slurmdbd.log",
        )
        self._spawn("slurmctld", [_binary("slurmctld"), "-D", "-i", "-f", str(self.conf)])
        _wait(
            lambda: self._alive("slurmctld") and self._ping(),
            "slurmctld",
            left(),
            self.root / "log" / "slurmctld.log",
        )
        self._spawn("slurmd", [_binary("slurmd"), "-D", "-f", str(self.conf), "-N", self.host])
        _wait(
            lambda: self._alive("slurmd") and self._node_ready(),
            "slurmd (node idle)",
            left(),
            self.root / "log" / "slurmd.log",
        )
        # slurmctld registers the cluster in slurmdbd by itself; sacct must see it before jobs run.
        _wait(lambda: self._sacct_works(), "accounting (sacct)", left(), self.root / "log" / "slurmdbd.log")

    def _write_configs(self) -> None:
        etc, root = self.root / "etc", self.root
        node = subprocess.run([_binary("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
        hardware = next(line for line in node.splitlines() if line.startswith("NodeName="))
        hardware = " ".join(part for part in hardware.split() if not part.startswith("NodeName="))
        munge = f"socket={root / 'munge' / 'munge.socket'}"
        (etc / "slurm.conf").write_text(
            f"""ClusterName=cvrepro
SlurmctldHost={self.host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={self.ports["slurmctld"]}
SlurmdPort={self.ports["slurmd"]}
AuthType=auth/munge
AuthInfo={munge}
CredType=cred/munge
StateSaveLocation={root / "state"}
SlurmdSpoolDir={root / "spool"}
SlurmctldPidFile={root / "state" / "slurmctld.pid"}
SlurmdPidFile={root / "spool" / "slurmd.pid"}
SlurmctldLogFile={root / "log" / "slurmctld.log"}
SlurmdLogFile={root / "log" / "slurmd.log"}
# No cgroups without systemd: track processes by parentage, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
# Without a default every job would take the node's whole memory and jobs would not overlap.
DefMemPerCPU=500
# Finished jobs stay visible to squeue/scontrol for 10 min; a restarted node rejoins by itself.
MinJobAge=600
ReturnToService=2
KillWait=5
MailProg=/bin/true
SchedulerType=sched/backfill
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={self.ports["slurmdbd"]}
# For slurmdbd this names the munge socket of connections to it; AuthInfo does not cover them.
AccountingStoragePass={root / "munge" / "munge.socket"}
# GPU allocations show up in sacct's AllocTRES only when tracked here.
AccountingStorageTRES=gres/gpu
# The plugin writes the rule and wildcards into each job's comment; keep it for sacct.
AccountingStoreFlags=job_comment
NodeName={self.host} NodeAddr=127.0.0.1 {hardware} Gres=gpu:{GPUS} State=UNKNOWN
PartitionName={PARTITION} Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
"""
        )
        # A GPU that Slurm schedules for real; File=/dev/null because a count with no file drains the node.
        (etc / "gres.conf").write_text(f"NodeName={self.host} Name=gpu File=/dev/null\n")
        dbd = etc / "slurmdbd.conf"
        dbd.write_text(
            f"""AuthType=auth/munge
AuthInfo={munge}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={self.ports["slurmdbd"]}
SlurmUser=root
LogFile={root / "log" / "slurmdbd.log"}
PidFile={root / "state" / "slurmdbd.pid"}
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={self.ports["mariadb"]}
StorageUser=root
StorageLoc=slurm_acct_db
"""
        )
        dbd.chmod(0o600)  # slurmdbd refuses a config that others can read (it may hold a password)

    def _write_srun_wrapper(self) -> None:
        """An `srun` that always names this cluster's config.

        Inside a job, snakemake-executor-plugin-slurm-jobstep starts each rule with `srun` after
        dropping every SLURM_* variable, SLURM_CONF included; a real cluster's srun then finds
        /etc/slurm/slurm.conf, ours would find nothing (or another cluster's config).
        """
        wrapper = self.root / "bin" / "srun"
        wrapper.parent.mkdir(exist_ok=True)
        wrapper.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {_binary("srun")} "$@"\n')
        wrapper.chmod(0o755)

    def _start_munge(self, timeout: float) -> None:
        munge = pwd.getpwnam("munge")
        directory = self.root / "munge"
        key = directory / "munge.key"
        key.write_bytes(os.urandom(1024))  # a key of our own: nothing outside this cluster can talk to it
        for path in (directory, key):
            os.chown(path, munge.pw_uid, munge.pw_gid)
        directory.chmod(0o755)  # munged wants its socket directory searchable by all
        key.chmod(0o600)
        socket_path = directory / "munge.socket"
        self._spawn(
            "munged",
            [
                _binary("munged"),
                "--foreground",
                f"--socket={socket_path}",
                f"--key-file={key}",
                f"--pid-file={directory / 'munged.pid'}",
                f"--log-file={directory / 'munged.log'}",
                f"--seed-file={directory / 'munged.seed'}",
            ],
            user="munge",
        )
        _wait(
            lambda: self._alive("munged") and socket_path.exists(),
            "munged",
            timeout,
            directory / "munged.log",
        )

    def _start_mariadb(self, timeout: float) -> None:
        data = self.root / "db"
        subprocess.run(
            [
                _binary("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={data}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            check=True,
            timeout=timeout,
        )
        self._spawn(
            "mariadbd",
            [
                _binary("mariadbd"),
                "--no-defaults",
                f"--datadir={data}",
                "--user=root",
                f"--port={self.ports['mariadb']}",
                "--bind-address=127.0.0.1",
                f"--socket={data / 'mysqld.sock'}",
                f"--pid-file={data / 'mariadbd.pid'}",
                # A throwaway database: durability is not worth the fsyncs.
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-buffer-pool-size=64M",
                "--innodb-lock-wait-timeout=900",
            ],
        )
        _wait(
            lambda: self._alive("mariadbd") and _port_open(self.ports["mariadb"]),
            "mariadbd",
            timeout,
            self.root / "log" / "mariadbd.out",
        )

    def _ping(self) -> bool:
        result = subprocess.run(
            ["scontrol", "ping"], capture_output=True, text=True, env=self.env, timeout=10
        )
        return "is UP" in result.stdout

    def _node_ready(self) -> bool:
        state = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, env=self.env, timeout=10
        ).stdout.strip()
        if "drain" in state:  # a stale DRAIN survives restarts (FACTS.md)
            subprocess.run(
                ["scontrol", "update", f"nodename={self.host}", "state=resume"],
                env=self.env,
                capture_output=True,
                timeout=10,
            )
        return state in ("idle", "mixed", "allocated")

    def _sacct_works(self) -> bool:
        result = subprocess.run(
            ["sacct", "-n", "-X"], capture_output=True, text=True, env=self.env, timeout=10
        )
        return result.returncode == 0

    # --- stop ------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Cancel jobs, then end every daemon we started, newest first, by pid; never raises."""
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            subprocess.run(
                ["scancel", "--full", f"--partition={PARTITION}"],
                env=self.env,
                capture_output=True,
                timeout=15,
                check=False,
            )
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)

    def log_tail(self, chars: int = 2000) -> str:
        """The end of each daemon's log, for failure messages."""
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)


def start_cluster(root: Path, timeout: float = 120) -> SlurmCluster:
    """Start a cluster under `root`; on failure everything already started is stopped again.

    `root` should be short (unix socket paths are limited to 108 bytes) and every directory
    above it must be searchable by the munge user, e.g. `tempfile.mkdtemp()` made 0755.
    """
    ports = {name: _free_port() for name in ("slurmctld", "slurmd", "slurmdbd", "mariadb")}
    cluster = SlurmCluster(root=root, host=socket.gethostname().split(".")[0], ports=ports)
    try:
        cluster.start(timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster
