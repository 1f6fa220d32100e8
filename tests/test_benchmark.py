"""The benchmarks run and report what they claim to (on tiny sizes; their numbers are not checked)."""

from __future__ import annotations

import csv
import sys

import torch

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import bench  # noqa: E402
import bench_workflow  # noqa: E402
import train_throughput  # noqa: E402
from bench_report import COLUMNS  # noqa: E402

from cvrepro.nets.device import cpu_has_native_bf16  # noqa: E402

SHAPES = ("28x28x1", "32x32x3", "96x96x3")


def test_benchmark_runs_both_loops(capsys):
    rows = train_throughput.main(
        images=64, size=16, channels=3, width=4, batch_size=32, workers=0, device="cpu", epochs=1
    )
    assert [row["images_per_s"] > 0 for row in rows] == [True, True]
    assert "speed-up" in capsys.readouterr().out


def test_quick_bench_writes_a_table_with_every_measurement(tmp_path):
    rows = bench.main(
        ["--quick", "--device", "cpu", "--no-dag", "--workers", "1", "--compile", "eager"]
        + ["--out-dir", str(tmp_path), "--name", "here"]
    )
    md, table = (tmp_path / "here.md").read_text(), list(csv.DictReader((tmp_path / "here.csv").open()))
    assert list(table[0]) == COLUMNS and len(table) == len(rows)
    assert {r["benchmark"] for r in table} == {
        "training",
        "feature extraction",
        "SimCLR pretraining",
        "probe fit",
    }
    training = [r for r in table if r["benchmark"] == "training"]
    # Each shape: the seed-style loop, our engine in fp32, in bf16 where this CPU has it natively,
    # and compiled (asked for with --compile).
    ours = ["cvrepro engine, fp32"] + (["cvrepro engine, bf16 autocast"] if cpu_has_native_bf16() else [])
    for shape in SHAPES:
        methods = [r["method"] for r in training if shape in r["data"]]
        assert methods[0].startswith("seed-style") and methods[1:-1] == ours, methods
        assert "torch.compile (eager" in methods[-1]
    for benchmark in ("feature extraction", "SimCLR pretraining"):
        assert sorted(
            shape for r in table if r["benchmark"] == benchmark for shape in SHAPES if shape in r["data"]
        ) == sorted(SHAPES)
    assert all(
        "(real)" in r["data"] or "(synthetic)" in r["data"] for r in table if r["benchmark"] != "probe fit"
    )
    assert all(float(r["value"]) > 0 for r in table)
    assert [r["unit"] for r in table if r["benchmark"] == "probe fit"] == ["s", "s", "s"]
    # The Markdown file: hardware first, then the same rows.
    assert "- CPU: " in md and "- GPU: none used" in md and f"torch {torch.__version__}" in md
    assert md.count("| training |") == 3 * (2 + len(ours)) and "| " + " | ".join(COLUMNS) + " |" in md
    # On a CPU, the full Fashion-MNIST run needs --fmnist-accuracy on.
    assert not any(r["benchmark"] == "Fashion-MNIST accuracy" for r in table)


def test_cpu_sizes_are_small_and_cuda_sizes_full():
    assert max(bench.PLANS["cpu"].train) <= 4096 and bench.PLANS["cuda"].train[1] == 50_000
    assert bench.PLANS["cuda"].train[0] == 60_000  # all of Fashion-MNIST's training split


def test_fmnist_accuracy_rows_report_accuracy_and_seconds():
    rows = bench.accuracy_rows(bench.PLANS["quick"], torch.device("cpu"), epochs=1, quick=True)
    assert [row.unit for row in rows] == ["% test accuracy", "s"]
    assert 0 <= rows[0].value <= 100 and rows[1].value > 0
    assert "256" in rows[0].data and "test: " in rows[0].note and "reached 94.5%" in rows[0].note


def test_fmnist_accuracy_finds_the_first_epoch_at_the_target():
    from bench_accuracy import fmnist_accuracy

    sizes = {"train_size": 128, "test_size": 128}
    always = fmnist_accuracy(4, 32, 2, torch.device("cpu"), target=0.0, **sizes)
    assert always["target_epoch"] == 1 and 0 < always["target_seconds"] < always["train_seconds"]
    never = fmnist_accuracy(4, 32, 2, torch.device("cpu"), target=1.01, **sizes)
    assert never["target_epoch"] is None and never["target_seconds"] is None


def test_dag_build_is_timed_in_a_fresh_directory():
    seconds, jobs = bench_workflow.dag_build()
    assert seconds > 0 and jobs > 1
