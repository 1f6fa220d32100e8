"""GPU slots: concurrent jobs get different GPUs, slots come back after failures, a preset
CUDA_VISIBLE_DEVICES is the pool, MIG instances are slots, locks are per machine, Slurm's choice wins.
Machines with GPUs are played by a fake nvidia-smi on PATH that answers `-L` as the real one does."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SNAKEMAKE, copy_finished, needs_fashion_mnist, tiny_config
from cvrepro.jobs.gpu_slots import default_lock_dir, gpu_slot, machine_slots, pool_slots

# A job stand-in: claims a slot, reports what it got, then holds it until killed.
HOLDER = """
import os, sys, time
sys.path.insert(0, {scripts!r})
from cvrepro.jobs.gpu_slots import gpu_slot
with gpu_slot(int(sys.argv[1]), poll_seconds=0.05) as slots:
    print("SLOTS", slots, os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
    time.sleep(600)
"""


def slot_env(lock_dir: Path, slots: int | None) -> dict[str, str]:
    """A job's environment with its own lock directory; `slots`: pretend GPUs (None: nvidia-smi's)."""
    drop = ("CUDA_VISIBLE_DEVICES", "CVREPRO_GPU_SLOTS", "SLURM_JOB_ID")
    env = {key: value for key, value in os.environ.items() if key not in drop}
    pretend = {"CVREPRO_GPU_SLOTS": str(slots)} if slots is not None else {}
    return {**env, **pretend, "CVREPRO_GPU_LOCK_DIR": str(lock_dir)}


def start_holder(env: dict[str, str], requested: int = 1) -> subprocess.Popen:
    code = HOLDER.format(scripts=str(REPO / "workflow" / "scripts"))
    return subprocess.Popen(
        [sys.executable, "-c", code, str(requested)], env=env, stdout=subprocess.PIPE, text=True
    )


def claimed(holder: subprocess.Popen) -> str:
    """The CUDA_VISIBLE_DEVICES the holder got, once it has claimed its slot."""
    for line in holder.stdout:
        if line.startswith("SLOTS"):
            return line.split()[-1]
    raise AssertionError(f"holder exited ({holder.wait()}) without claiming a slot")


@pytest.fixture
def holders():
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


@pytest.fixture
def slot_env_here(tmp_path, monkeypatch) -> Path:
    """This process as a job on a 1-GPU machine with its own lock directory."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setenv("CVREPRO_GPU_SLOTS", "1")
    monkeypatch.setenv("CVREPRO_GPU_LOCK_DIR", str(tmp_path / "locks"))
    return tmp_path / "locks"


def test_concurrent_jobs_get_different_slots_and_a_third_waits(tmp_path, holders):
    env = slot_env(tmp_path / "locks", slots=2)
    holders.append(start_holder(env))
    first = claimed(holders[0])
    holders.append(start_holder(env))
    second = claimed(holders[1])
    assert {first, second} == {"0", "1"}

    holders.append(start_holder(env))  # both slots busy: this one must wait ...
    time.sleep(1.0)
    assert holders[2].poll() is None
    os.kill(holders[0].pid, signal.SIGKILL)  # ... until a holder dies without cleaning up
    assert claimed(holders[2]) == first


def test_a_two_gpu_job_sees_both_slots(tmp_path, holders):
    holders.append(start_holder(slot_env(tmp_path / "locks", slots=2), requested=2))
    assert claimed(holders[0]) == "0,1"


def test_slot_is_released_after_an_exception(slot_env_here, holders):
    with pytest.raises(RuntimeError, match="job failed"):
        with gpu_slot(1) as slots:
            assert slots == ["0"] and os.environ["CUDA_VISIBLE_DEVICES"] == "0"
            raise RuntimeError("job failed")
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    # Another process gets the only slot at once, so the lock really went away.
    holders.append(start_holder(slot_env(slot_env_here, slots=1)))
    assert claimed(holders[0]) == "0"


def test_busy_slot_blocks_until_its_holder_is_killed(slot_env_here, holders):
    holders.append(start_holder(slot_env(slot_env_here, slots=1)))
    assert claimed(holders[0]) == "0"
    killer = subprocess.Popen(["sh", "-c", f"sleep 1; kill -9 {holders[0].pid}"])
    started = time.monotonic()
    with gpu_slot(1, poll_seconds=0.05) as slots:
        waited = time.monotonic() - started
    killer.wait()
    assert slots == ["0"] and waited >= 0.9


def test_slurm_s_choice_of_gpus_is_left_alone(slot_env_here, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")  # as Slurm does for a job with --gpus=1
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    with gpu_slot(1) as slots:
        assert slots is None and os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    assert not slot_env_here.exists()  # no lock taken


# What `nvidia-smi -L` prints on a machine with four GPUs, and on one whose GPU 0 is split into two
# MIG instances (the format of drivers 470 and later).
FOUR_GPUS = "".join(f"GPU {i}: NVIDIA A100-SXM4-40GB (UUID: GPU-{i}aaa-0000)\n" for i in range(4))
MIG = """GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-0aaa-0000)
  MIG 3g.20gb     Device  0: (UUID: MIG-1111-aaaa)
  MIG 3g.20gb     Device  1: (UUID: MIG-2222-bbbb)
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-1aaa-0000)
"""


def fake_nvidia_smi(directory: Path, listing: str) -> str:
    """A PATH on which `nvidia-smi -L` prints `listing`."""
    tool = directory / "bin" / "nvidia-smi"
    tool.parent.mkdir(parents=True, exist_ok=True)
    tool.write_text(f"#!/bin/sh\ncat <<'EOF'\n{listing}EOF\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return f"{tool.parent}{os.pathsep}{os.environ['PATH']}"


def test_slots_from_nvidia_smi_listings():
    assert [(s.visible, s.key) for s in machine_slots(FOUR_GPUS)][:2] == [
        ("0", "GPU-0aaa-0000"),
        ("1", "GPU-1aaa-0000"),
    ]
    # A GPU in MIG mode is its instances: each a slot, seen by CUDA through its UUID.
    assert [s.visible for s in machine_slots(MIG)] == ["MIG-1111-aaaa", "MIG-2222-bbbb", "1"]
    assert [(s.visible, s.key) for s in pool_slots("2, GPU-3aaa-0000", FOUR_GPUS)] == [
        ("2", "GPU-2aaa-0000"),
        ("GPU-3aaa-0000", "GPU-3aaa-0000"),
    ]
    assert machine_slots("") == [] and machine_slots("No devices were found\n") == []


def test_mig_instances_are_slots_of_their_own(tmp_path, holders):
    env = {**slot_env(tmp_path / "locks", None), "PATH": fake_nvidia_smi(tmp_path, MIG)}
    got = []
    for _ in range(3):
        holders.append(start_holder(env))
        got.append(claimed(holders[-1]))
    assert sorted(got) == ["1", "MIG-1111-aaaa", "MIG-2222-bbbb"]
    assert sorted(p.name for p in (tmp_path / "locks").iterdir()) == [
        "GPU-1aaa-0000.lock",
        "MIG-1111-aaaa.lock",
        "MIG-2222-bbbb.lock",
    ]


def test_a_preset_cuda_visible_devices_is_the_pool(tmp_path, holders):
    env = {**slot_env(tmp_path / "locks", None), "PATH": fake_nvidia_smi(tmp_path, FOUR_GPUS)}
    env["CUDA_VISIBLE_DEVICES"] = "2,3"  # this workflow may use GPUs 2 and 3 of the four
    holders.append(start_holder(env))
    holders.append(start_holder(env))
    assert sorted(claimed(h) for h in holders) == ["2", "3"]  # one each, never GPU 0
    holders.append(start_holder(env))  # both busy: the third waits for one of them
    time.sleep(1.0)
    assert holders[2].poll() is None
    assert sorted(p.name for p in (tmp_path / "locks").iterdir()) == [
        "GPU-2aaa-0000.lock",
        "GPU-3aaa-0000.lock",
    ]


def test_a_preset_pool_is_restored_and_too_small_a_pool_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path, FOUR_GPUS))
    monkeypatch.setenv("CVREPRO_GPU_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.delenv("CVREPRO_GPU_SLOTS", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3")
    with gpu_slot(1) as slots:
        assert slots == ["1"] and os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1,3"
    with pytest.raises(ValueError, match=r"wants 3 GPUs but CUDA_VISIBLE_DEVICES='1,3' names 2 GPU slots"):
        with gpu_slot(3):
            pass


def test_the_lock_directory_is_one_per_machine(tmp_path, monkeypatch):
    """Two clones of the workflow (two working directories) lock the same files."""
    monkeypatch.delenv("CVREPRO_GPU_LOCK_DIR", raising=False)
    from cvrepro.jobs.gpu_slots import lock_dir

    monkeypatch.chdir(tmp_path)
    first = lock_dir().resolve()
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    assert lock_dir().resolve() == first == default_lock_dir().resolve()
    assert tmp_path not in first.parents


def test_cpu_jobs_and_impossible_requests(slot_env_here):
    with gpu_slot(0) as slots:
        assert slots is None and "CUDA_VISIBLE_DEVICES" not in os.environ
    with pytest.raises(ValueError, match="wants 2 GPUs but this machine has 1"):
        with gpu_slot(2):
            pass


# --- the workflow: two training jobs at once on a "2-GPU" machine --------------------------------

CLAIM = re.compile(r"GPU slot (\d+) claimed at ([\d.]+)")
RELEASE = re.compile(r"GPU slot (\d+) released at ([\d.]+)")


@pytest.mark.workflow
@needs_fashion_mnist
def test_two_training_jobs_run_at_once_on_different_slots(tmp_path, finished_tiny):
    # Device auto makes train declare gpu=1; on a CPU machine it still trains on the CPU. The
    # finished tiny study's data and subsets are up to date here: only the two trainings run.
    tmp_path = copy_finished(finished_tiny, tmp_path / "work")
    # 12 epochs hold a slot for ~2 s on 2 CPU cores, several times the start-up skew of two jobs.
    runs = {name: {"train": "big", "epochs": 12} for name in ("one", "two")}
    config = tiny_config(runs=runs, tables={}, figures={}, probes={}, bn_sweeps={}, pretrain={})
    config["device"] = "auto"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = {key: value for key, value in os.environ.items() if key != "CUDA_VISIBLE_DEVICES"}
    env |= {
        "CVREPRO_GPU_SLOTS": "2",
        "PYTHONUNBUFFERED": "1",
        "CVREPRO_GPU_LOCK_DIR": str(tmp_path / "locks"),
    }
    targets = [f"results/tiny/runs/{name}/metrics.json" for name in runs]
    command = [str(SNAKEMAKE), *targets, "-s", str(REPO / "Snakefile"), "-d", str(tmp_path)]
    # Targets go first: --resources takes every word after it.
    command += ["--configfile", str(tmp_path / "config.yaml"), "--cores", "2", "--resources", "gpu=2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]

    spans = {}
    for name in runs:
        log = (tmp_path / f"results/tiny/logs/train/{name}.log").read_text()
        (slot, start), (slot_again, end) = CLAIM.search(log).groups(), RELEASE.search(log).groups()
        assert slot == slot_again and "epoch 12/12" in log
        spans[name] = (slot, float(start), float(end))
    (slot_one, start_one, end_one), (slot_two, start_two, end_two) = spans["one"], spans["two"]
    assert {slot_one, slot_two} == {"0", "1"}
    assert max(start_one, start_two) < min(end_one, end_two), spans  # both held a GPU at the same time
    assert (tmp_path / "locks/slot1.lock").exists()
