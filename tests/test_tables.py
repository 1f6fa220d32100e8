"""Table builders (reported vs ours, missing rows, sweep tables) and the report's assembly."""

from __future__ import annotations

import pandas as pd
import pytest

from cvrepro.caveats import automatic_caveats
from cvrepro.study_report import index_markdown, reported_vs_ours, study_report
from cvrepro.tables import provenance_line, run_table, sweep_table, to_markdown

SPEC = {
    "runs": ["t1", "t2"],
    "pretrain": ["simclr"],
    "probes": ["svm"],
    "columns": ["train_acc", "test_acc", "contrastive_acc", "train_time_s"],
    "reported": {"t1": {"test_acc": 0.2446}, "svm": {"test_acc": 0.8365}},
}


def test_run_table_puts_reported_and_difference_beside_ours():
    frame = run_table(
        SPEC,
        {"t1": {"train_acc": 0.9, "train_time_s": 12.0}, "t2": {"train_acc": 0.95}},
        {"t1": {"accuracy": 0.25}, "t2": {"accuracy": 0.39}},
        {"svm": {"train_acc": 1.0, "test_acc": 0.80, "fit_time_s": 0.5}},
        {"simclr": {"contrastive_acc": 0.99, "train_time_s": 30.0}},
    )
    assert list(frame.index) == ["t1", "t2", "simclr", "svm"]
    assert list(frame.columns) == [
        "train_acc",
        "test_acc",
        "test_acc_reported",
        "test_acc_diff",
        "contrastive_acc",
        "train_time_s",
    ]
    assert frame.loc["t1", "test_acc_diff"] == pytest.approx(0.25 - 0.2446)
    assert frame.loc["svm", "test_acc_diff"] == pytest.approx(0.80 - 0.8365)
    assert pd.isna(frame.loc["t2", "test_acc_reported"]) and frame.loc["svm", "train_time_s"] == 0.5
    assert frame.loc["simclr", "contrastive_acc"] == 0.99 and pd.isna(frame.loc["simclr", "test_acc"])


def test_missing_runs_give_empty_cells_not_errors():
    frame = run_table(SPEC, {}, {}, {}, {})
    assert frame.loc["t1", "test_acc_reported"] == 0.2446
    assert pd.isna(frame.loc["t1", "test_acc"]) and pd.isna(frame.loc["t1", "test_acc_diff"])
    markdown = to_markdown(frame, "caption")
    assert "| t1 | – | – | 24.46% | – |" in markdown


def test_markdown_formats_accuracies_differences_and_provenance():
    frame = run_table(SPEC, {"t1": {"train_acc": 0.5}}, {"t1": {"accuracy": 0.2}}, {}, {})
    markdown = to_markdown(
        frame, "T1", provenance_line([{"provenance": {"git_commit": "abc", "device": "cpu"}}])
    )
    assert markdown.startswith("**T1**")
    assert "| t1 | 50.00% | 20.00% | 24.46% | -4.46 pp |" in markdown
    assert markdown.rstrip().endswith("Made by commit abc on cpu; config hashes: ?.")


def sweep_rows(run_offset: float) -> pd.DataFrame:
    rows = []
    for mode, base in (("eval", 0.1), ("train", 0.3)):
        for batch_size in (4, 32):
            for severity, corruption in ((0, "clean"), (1, "fog"), (5, "fog")):
                accuracy = base + run_offset + batch_size / 1000 + (0.5 if severity == 0 else severity / 100)
                for order in ("shuffled", "class_sorted"):
                    rows.append(
                        {
                            "corruption": corruption,
                            "severity": severity,
                            "mode": mode,
                            "batch_size": batch_size,
                            "order": order,
                            "accuracy": accuracy if order == "shuffled" else 0.0,
                        }
                    )
    return pd.DataFrame(rows)


def test_sweep_table_means_corrupted_conditions_per_batch_size_mode_and_run():
    spec = {"modes": ["eval", "train"], "order": "shuffled", "reported": {4: {"train:t1": 0.0669}}}
    frame = sweep_table(spec, {"t1": sweep_rows(0.0), "t2": sweep_rows(0.2)})
    assert list(frame.index) == ["4", "32"] and frame.index.name == "batch_size"
    assert list(frame.columns) == [
        "eval:t1",
        "eval:t2",
        "train:t1",
        "train:t1_reported",
        "train:t1_diff",
        "train:t2",
    ]
    # severities 1 and 5 only (clean excluded), shuffled order only: 0.1 + 0.004 + 0.03
    assert frame.loc["4", "eval:t1"] == pytest.approx(0.134)
    assert frame.loc["32", "train:t2"] == pytest.approx(0.3 + 0.2 + 0.032 + 0.03)
    assert frame.loc["4", "train:t1_diff"] == pytest.approx(0.3 + 0.004 + 0.03 - 0.0669)
    assert "| 4 | 13.40% |" in to_markdown(frame)


def test_report_assembles_tables_comparison_figures_jobs_and_caveats():
    frame = run_table(SPEC, {"t1": {"train_acc": 0.5}}, {"t1": {"accuracy": 0.2}}, {}, {})
    comparison = reported_vs_ours({"t": frame})
    assert comparison[["row", "column"]].values.tolist() == [["t1", "test_acc"], ["svm", "test_acc"]]
    assert comparison.loc[0, "diff"] == pytest.approx(0.2 - 0.2446) and pd.isna(comparison.loc[1, "ours"])
    jobs = {
        "t1": (
            "run",
            {"train_time_s": 60.0, "train_images": 500, "epochs": 2, "provenance": {"device": "H100"}},
        ),
        "simclr": ("pretraining", {"train_time_s": None}),
    }
    text = study_report(
        "s1", "What S1 does.", {"t": (to_markdown(frame), frame)}, {"curves": "Loss"}, jobs, ["c1"], "abc"
    )
    assert text.index("## Tables") < text.index("## Reported vs ours") < text.index("## Figures")
    assert "| t | t1 | test_acc | 24.46% | 20.00% | -4.46 pp |" in text
    assert "![Loss](figures/curves.png)" in text
    assert "| t1 | run | H100 | ? | 2 | 500 | 60.0 | 17 |" in text and "| simclr | pretraining |" in text
    assert "Total training time: 60 s" in text and "- c1" in text and text.rstrip().endswith("commit abc.")
    index = index_markdown(
        {"s1": {"description": "x " * 200, "runs": 2, "tables": 1, "figures": 1, "train_minutes": 1.0}}
    )
    assert "| [s1](s1/REPORT.md) |" in index and "..." in index


def test_automatic_caveats_name_imagenet_overlap_and_tiny_train_mode_batches():
    spec = {
        "subsets": {"a": {"dataset": "stl10"}, "b": {"dataset": "cifar10"}},
        "runs": {"r": {"init": "imagenet"}},
        "probes": {},
        "bn_sweeps": {"bn": {"batch_sizes": [4, 32], "modes": ["eval", "train"]}},
    }
    caveats = automatic_caveats(spec)
    assert len(caveats) == 2
    assert "STL-10's images come from ImageNet" in caveats[0] and "optimistic" in caveats[0]
    assert "test batch size 4" in caveats[1]
    spec["subsets"] = {"b": {"dataset": "cifar10"}}
    spec["bn_sweeps"]["bn"]["modes"] = ["eval"]
    assert automatic_caveats(spec) == []
