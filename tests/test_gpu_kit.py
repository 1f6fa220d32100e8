"""The GPU kit (benchmarks/gpu_session.sh) parses, runs its stages on the CPU as a dry run, and its
throughput stage reports the plain resident loop beside the engine in each precision asked for."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import train_throughput  # noqa: E402

KIT = REPO / "benchmarks" / "gpu_session.sh"


def kit(*stages: str, out, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "KIT_DEVICE": "cpu", "PY": sys.executable, "OUT": str(out)}
    return subprocess.run(
        ["bash", str(KIT), *stages], capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout
    )


def test_the_kit_parses_and_names_an_unknown_stage(tmp_path):
    assert subprocess.run(["bash", "-n", str(KIT)], capture_output=True).returncode == 0
    done = kit("warp", out=tmp_path)
    assert (
        done.returncode == 2
        and "unknown stage 'warp'; stages: info tests throughput fp16 rehearsal" in done.stderr
    )


def test_the_info_and_rehearsal_stages_run_dry_on_the_cpu(tmp_path):
    done = kit("info", "rehearsal", out=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "torch can use the GPU" in (tmp_path / "info.log").read_text()
    assert "This was a dry-run" in (tmp_path / "rehearsal.log").read_text()  # planned, with -n
    summary = (tmp_path / "summary.txt").read_text().splitlines()
    assert [line.split(":")[0] for line in summary] == ["info", "rehearsal"]
    assert all(": exit 0 in " in line for line in summary)


def test_the_throughput_stage_s_rows_on_the_cpu(capsys):
    rows = train_throughput.resident_rows(
        images=64, size=8, channels=3, width=4, batch_size=32, device="cpu", epochs=1, precisions=["fp32"]
    )
    assert [row["loop"].split()[0] for row in rows] == ["plain", "cvrepro"]
    assert all(row["images_per_s"] > 0 and row["precision"] == "fp32 -> fp32" for row in rows)
    assert all(row["mfu"] is None and row["peak_memory_gib"] is None for row in rows)  # GPU figures only
    assert "GFLOP per image" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "kind", "tflops"),
    [
        ("NVIDIA H100 80GB HBM3", "bf16", 989),
        ("NVIDIA H100 PCIe", "bf16", 756),
        ("NVIDIA A100-SXM4-40GB", "fp32", 19.5),  # not the A10's
        ("NVIDIA A10", "bf16", 125),
        ("Tesla V100-SXM2-16GB", "bf16", None),  # no bf16 tensor cores: no MFU claimed
        ("Tesla T4", "fp16", 65),
        ("Some Future GPU", "bf16", None),
    ],
)
def test_peaks_for_mfu_are_looked_up_by_the_longest_matching_name(name, kind, tflops):
    assert train_throughput.peak_tflops(name, kind) == tflops
