"""The workflow through profiles/slurm on a real one-node Slurm cluster started by the test.

GPU rules are scheduled with a (fake, /dev/null) GPU that Slurm really allocates; results equal a
local run; a job that fails at run time is reported; the rerun after the fix runs only what is
missing. Needs root and Debian's slurm-wlm, munge, slurmdbd and mariadb-server (.ci/run installs
them); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO, SNAKEMAKE, needs_fashion_mnist, planned_jobs, planned_wildcards, tiny_config
from slurm_cluster import PARTITION, SlurmCluster, missing_requirements, start_cluster

REASON = missing_requirements()
pytestmark = [
    pytest.mark.workflow,
    needs_fashion_mnist,
    pytest.mark.skipif(REASON is not None, reason=str(REASON)),
]

RUN_TIMEOUT = 400  # seconds per snakemake call; each took 1-2.5 min, the whole test 3-4, on 2 cores


def study(few_size: int) -> dict:
    """Two trainings. Subset `few` (classes 0-1 of `pool`, which holds 40 of each) passes the
    load-time size check at any size up to 400 but can only be drawn at run time up to 80. Run f's
    batch (32) fits the 60 images of the fixed study (a batch larger than its subset is refused)."""
    config = tiny_config(
        subsets={
            "pool": {"dataset": "fashion_mnist", "split": "train", "size": 400, "seed": 1},
            "few": {
                "dataset": "fashion_mnist",
                "split": "train",
                "size": few_size,
                "classes": 2,
                "within": "pool",
            },
            "test": {"dataset": "fashion_mnist", "split": "test", "size": 500},
            "test2": {"dataset": "fashion_mnist", "split": "test", "size": 200, "classes": 2},
        },
        runs={
            "a": {"train": "pool", "val": None},
            "f": {"train": "few", "val": None, "test": "test2", "batch_size": 32},
        },
        tables={},
        figures={},
        probes={},
        bn_sweeps={},
        shift_sets={},
        pretrain={},
    )
    config["device"] = "auto"  # GPU rules declare gpu=1; with no CUDA device they train on the CPU
    return config


def site_profile(directory: Path) -> Path:
    """profiles/slurm with what a site adapts: the partition, memory that fits this node, and a
    short first status check (the jobs here take seconds)."""
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    profile["default-resources"] |= {"slurm_partition": PARTITION, "mem_mb": 1000}
    for resources in profile["set-resources"].values():
        resources |= {
            "mem_mb": 1000,
            **({"slurm_partition": PARTITION} if "slurm_partition" in resources else {}),
        }
    # Polls at 8 s and 26 s after a submission: these jobs take 15-20 s (two snakemake start-ups).
    profile["slurm-init-seconds-before-status-checks"] = 8
    profile["retries"] = 0  # the failure below is deterministic; a retry would only cost a DAG level
    profile["latency-wait"] = 5
    directory.mkdir(parents=True)
    (directory / "config.yaml").write_text(yaml.safe_dump(profile))
    return directory


# The two trainings and what they need (4 DAG levels): each level costs Slurm's status polling.
TARGETS = ["results/tiny/runs/a/metrics.json", "results/tiny/runs/f/metrics.json"]


def command(workdir: Path, config: dict, *args: str) -> list[str]:
    """The snakemake command for TARGETS on `workdir`, with `config` written there."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    # Targets first: --resources would take every word after it.
    return [
        *(str(SNAKEMAKE), *TARGETS, "-s", str(REPO / "Snakefile"), "-d", str(workdir)),
        *("--configfile", str(workdir / "config.yaml"), *args),
    ]


def snakemake(
    workdir: Path, config: dict, *args: str, env: dict[str, str], niceness: int = 0
) -> subprocess.Popen:
    """Start the workflow on `workdir`; its output goes to workdir/snakemake.out."""
    line = ["nice", "-n", str(niceness), *command(workdir, config, *args)]
    with open(workdir / "snakemake.out", "w") as out:
        return subprocess.Popen(line, stdout=out, stderr=subprocess.STDOUT, text=True, env=env, cwd=workdir)


def finish(process: subprocess.Popen) -> tuple[int, str]:
    """Wait for a snakemake started by `snakemake()`: its exit status and output."""
    try:
        process.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.terminate()  # snakemake cancels its Slurm jobs on SIGTERM
        process.wait(timeout=60)
    return process.returncode, (
        Path(process.args[process.args.index("-d") + 1]) / "snakemake.out"
    ).read_text()


@pytest.fixture(scope="module")
def cluster():
    # Short and searchable by the munge user: sockets live in it (108-byte path limit).
    root = Path(tempfile.mkdtemp(prefix="cvslurm-"))
    root.chmod(0o755)
    started = time.monotonic()
    try:
        running = start_cluster(root, timeout=120)
        print(f"Slurm cluster up in {time.monotonic() - started:.1f} s: {root}")
        yield running
        running.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def jobs_in_accounting(cluster: SlurmCluster) -> list[dict[str, str]]:
    """Every job the cluster ran: rule (from the plugin's comment), state and allocated TRES."""
    fields = ["JobID", "Comment", "State", "AllocTRES"]
    result = cluster.run("sacct", "-X", "-n", "-P", "-S", "2020-01-01", "-o", ",".join(fields))
    return [dict(zip(fields, line.split("|"), strict=True)) for line in result.stdout.splitlines() if line]


def test_workflow_on_slurm(cluster: SlurmCluster, tmp_path):
    env = {**cluster.env, "PYTHONUNBUFFERED": "1"}
    profile = ["--profile", str(site_profile(tmp_path / "profile"))]
    broken, fixed = study(few_size=100), study(few_size=60)
    workdir, local_dir = tmp_path / "slurm", tmp_path / "local"

    # The fixed study on this machine meanwhile, the reference results: at low priority, it uses
    # what the Slurm run leaves idle while it waits for status polls.
    local = snakemake(
        local_dir, fixed, "--cores", "1", "--resources", "gpu=1", env=os.environ | env, niceness=19
    )
    started = time.monotonic()
    try:
        status, log = finish(snakemake(workdir, broken, *profile, env=env))
        print(f"first Slurm run (one job fails): {time.monotonic() - started:.0f} s")
        assert status != 0, log[-3000:]
        assert "Error in rule subset" in log and "subset=few" in log, log[-6000:]
        assert "images available" in log  # show-failed-logs: the job's own error is in the output
        results = workdir / "results/tiny"
        # keep-going: everything that does not need the failed subset finished.
        assert (results / "runs/a/metrics.json").exists() and not (results / "runs/f").exists()
        kept = {path: path.stat().st_mtime_ns for path in (results / "runs/a").iterdir()}

        dry_run = command(workdir, fixed, *profile, "-n")
        plan = subprocess.run(dry_run, capture_output=True, text=True, env=env, timeout=120, cwd=workdir)
        planned = planned_jobs(plan)
        assert {rule: planned.get(rule) for rule in ("prepare", "subset", "train", "evaluate")} == {
            "prepare": None,
            "subset": 1,
            "train": 1,
            "evaluate": None,
        }, plan.stdout
        assert planned_wildcards(plan, "train") == ["study=tiny, run=f"], plan.stdout
        started = time.monotonic()
        status, log = finish(snakemake(workdir, fixed, *profile, env=env))
        print(f"second Slurm run (what is missing): {time.monotonic() - started:.0f} s")
        assert status == 0, log[-6000:]
        assert {path: path.stat().st_mtime_ns for path in kept} == kept  # run a was not redone
    except BaseException:
        print(cluster.log_tail())
        raise
    finally:
        local_status, local_log = finish(local)

    by_rule: dict[str, list[dict[str, str]]] = {}
    for job in jobs_in_accounting(cluster):
        by_rule.setdefault(job["Comment"].split("_wildcards_")[0].removeprefix("rule_"), []).append(job)
    assert len(by_rule["train"]) == 2 and "evaluate" not in by_rule, by_rule
    for job in by_rule["train"]:  # Slurm allocated the GPU rule its GPU ...
        assert "gres/gpu=1" in job["AllocTRES"] and job["State"] == "COMPLETED", job
    for job in by_rule["prepare"] + by_rule["subset"]:  # ... and nothing else
        assert "gres/gpu" not in job["AllocTRES"], job
    assert "FAILED" in [job["State"] for job in by_rule["subset"]], by_rule["subset"]
    # The job saw the GPU Slurm gave it, and the GPU slots left that alone.
    train_log = (workdir / "results/tiny/logs/train/a.log").read_text()
    assert "CUDA_VISIBLE_DEVICES='0' chosen by Slurm; no slot claimed" in train_log, train_log

    assert local_status == 0, local_log[-4000:]
    # Seeded CPU training is deterministic: the same weights bit for bit. On a GPU host Slurm's
    # CUDA_VISIBLE_DEVICES=0 is a real GPU and both sides train there, in bf16, nearly alike.
    on_gpu = "on cuda" in train_log
    for run in ("a", "f"):
        on_slurm, at_home = (workdir / f"results/tiny/runs/{run}", local_dir / f"results/tiny/runs/{run}")
        columns = ["train_loss", "train_acc"]
        pd.testing.assert_frame_equal(
            pd.read_csv(on_slurm / "history.csv")[columns],
            pd.read_csv(at_home / "history.csv")[columns],
            atol=0.02 if on_gpu else 0.0,
            rtol=0,
        )
        metrics = [json.loads((side / "metrics.json").read_text()) for side in (on_slurm, at_home)]
        assert metrics[0]["train_images"] == metrics[1]["train_images"] == (400 if run == "a" else 60)
        if not on_gpu:
            weights = [
                torch.load(side / "model.pt", weights_only=True)["state_dict"] for side in (on_slurm, at_home)
            ]
            assert weights[0].keys() == weights[1].keys()
            assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])
