"""A small workflow that fits a probe by minibatch_gd and makes its history, a run table with its
stopping iteration, a per-class table with reported values, and the probe_curves and
class_accuracy (precision) figures."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import needs_fashion_mnist, run_snakemake

GD = {"kind": "softmax", "solver": "minibatch_gd", "features": "pixels", "train": "small", "test": "test"}

WORKFLOW_STUDY = {
    "subsets": {
        "val": {"dataset": "fashion_mnist", "split": "train", "size": 300, "seed": 1},
        "train": {"dataset": "fashion_mnist", "split": "train", "size": 1000, "exclude": ["val"]},
        "test": {"dataset": "fashion_mnist", "split": "test", "size": 500},
    },
    "runs": {"a": {"train": "train", "test": "test", "model": {"width": 4}, "epochs": 1, "batch_size": 64}},
    "probes": {
        "gd": {
            **GD,
            "train": "train",
            "val": "val",
            "lr": 0.05,
            "batch_size": 32,
            "max_iter": 400,
            "patience": 20,
        },
    },
    "tables": {
        "linear": {"probes": ["gd"], "columns": ["train_acc", "val_acc", "test_acc", "iterations"]},
        "pc_probe": {
            "kind": "per_class",
            "source": "gd",
            "reported": {"0": {"precision": 0.7}, "Bag": {"f1": 0.8}},
        },
        "pc_run": {"kind": "per_class", "source": "a"},  # checked and planned, not made (no training here)
    },
    "figures": {
        "curves": {"kind": "probe_curves", "runs": ["gd"]},
        "classes": {"kind": "class_accuracy", "runs": ["gd"], "metric": "precision"},
    },
}


@needs_fashion_mnist
def test_workflow_makes_gd_probe_history_per_class_tables_and_curves(tmp_path):
    config = {"studies": ["gd"], "device": "cpu", "threads": 1, "inline_studies": {"gd": WORKFLOW_STUDY}}
    dry = run_snakemake(tmp_path, config, "-n", "results/gd/REPORT.md")
    assert dry.returncode == 0 and "pc_run" in dry.stdout, dry.stderr[-3000:]
    targets = [f"results/gd/tables/{t}.csv" for t in ("linear", "pc_probe")]
    targets += [f"results/gd/figures/{f}.png" for f in ("curves", "classes")]
    result = run_snakemake(tmp_path, config, "--cores", "2", *targets)
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "results" / "gd"
    history = pd.read_csv(results / "probes" / "gd" / "history.csv")
    linear = pd.read_csv(results / "tables" / "linear.csv", index_col=0)
    assert linear.loc["gd", "iterations"] == len(history) <= 400
    assert linear.loc["gd", "val_acc"] == pytest.approx(history["val_acc"].iloc[-1])
    probe_rows = pd.read_csv(results / "tables" / "pc_probe.csv", index_col=0)
    assert list(probe_rows.index[:2]) == ["T-shirt/top", "Trouser"] and "Bag" in probe_rows.index
    assert probe_rows.loc["T-shirt/top", "precision_reported"] == 0.7
    assert probe_rows.loc["Bag", "f1_reported"] == 0.8
    assert probe_rows.loc["accuracy", "f1"] == pytest.approx(linear.loc["gd", "test_acc"])
    for figure in ("curves", "classes"):
        assert (results / "figures" / f"{figure}.png").stat().st_size > 0
