"""compare_results: two small result trees, matched cell by cell (main() and the command line)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from compare_results import main

from conftest import REPO, heavy_imports

SCRIPT = REPO / "workflow" / "scripts" / "compare_results.py"

# The workflow's layout: tables (first column the row name, replicate statistics beside a
# column) and nested metrics.json of runs, pretrainings, probes and evaluations.
TREE = {
    "s1/tables/t.csv": [
        {"run": "a", "test_acc": 0.90, "test_acc_sd": 0.01, "test_acc_n": 3, "test_acc_lo": 0.88,
         "test_acc_hi": 0.92, "test_acc_reported": 0.91, "test_acc_diff": -0.01,
         "test_acc_verdict": "agrees", "train_time_s": 12.5, "note": "ok", "val_acc": None},
        {"run": "b", "test_acc": 0.80, "test_acc_sd": 0.02, "test_acc_n": 3, "test_acc_lo": 0.75,
         "test_acc_hi": 0.85, "test_acc_reported": 0.70, "test_acc_diff": 0.10,
         "test_acc_verdict": "differs", "train_time_s": 30.0, "note": "ok", "val_acc": 0.5},
    ],
    "s1/tables/bn.csv": [{"batch_size": 4, "eval:b": 0.25}, {"batch_size": 64, "eval:b": 0.5}],
    "s1/runs/a/metrics.json": {
        "train_acc": 0.95, "val_acc": None, "epochs": 2, "stopped_early": False,
        "train_time_s": 10.0, "wall_time_s": 11.0, "images_per_s": 900.0,
        "hparams": {"optimizer": {"name": "sgd", "lr": 0.05}},
        "provenance": {"git_commit": "abc", "device": "cpu"},
    },
    "s1/pretrain/ssl/metrics.json": {"contrastive_acc": 0.7, "train_time_s": 40.0},
    "s1/probes/svm/metrics.json": {"test_acc": 0.6, "train_time_s": 1.0},
    "s1/evals/a/test/metrics.json": {
        "test_acc": 0.9, "per_class": {"Bag": {"recall": 0.5}, "Coat": {"recall": 1.0}},
        "confusion": [[1, 1], [0, 2]], "model": "results/s1/runs/a/model.pt",
        "roc": {"per_class": {"Bag": {"fpr": [0, 0.5, 1], "tpr": [0, 1, 1], "auc": 0.75}}, "macro_auc": 0.75},
    },
    "s2/tables/t.csv": [{"run": "x", "test_acc": 0.5}],
}  # fmt: skip


def write_tree(root: Path, tree: dict) -> Path:
    for name, content in tree.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".csv"):
            frame = pd.DataFrame(content)
            frame.set_index(frame.columns[0]).to_csv(path)
        else:
            path.write_text(json.dumps(content, indent=2))
    return root


def trees(tmp_path: Path, change=None) -> tuple[Path, Path]:
    """A and B: the same tree, B passed through `change` (a function editing the dict)."""
    tree_b = copy.deepcopy(TREE)
    if change is not None:
        change(tree_b)
    return write_tree(tmp_path / "A", TREE), write_tree(tmp_path / "B", tree_b)


def run_main(tmp_path: Path, capsys, change=None, tol: float = 0.0, **options) -> tuple[int, str]:
    a, b = trees(tmp_path, change)
    code = main(a, b, tol, tmp_path / "out", **options)
    return code, capsys.readouterr().out


def test_identical_trees_have_no_differences_and_write_both_files(tmp_path, capsys):
    code, out = run_main(tmp_path, capsys)
    assert code == 0
    assert "no differences" in out and "Differences" not in out and "Only in one set" not in out
    assert (tmp_path / "out" / "compare.md").read_text() == out
    assert pd.read_csv(tmp_path / "out" / "compare.csv").empty


def test_changed_table_cell_is_named_by_study_table_row_and_column(tmp_path, capsys):
    def change(tree):
        tree["s1/tables/t.csv"][1]["test_acc"] = 0.82

    code, out = run_main(tmp_path, capsys, change)
    assert code == 1 and "no differences" not in out
    assert "| s1 | tables/t | b | test_acc | 0.8 [0.75, 0.85] | 0.82 [0.75, 0.85] | +0.02 | yes |" in out
    frame = pd.read_csv(tmp_path / "out" / "compare.csv")
    assert frame[["status", "study", "source", "row", "column"]].values.tolist() == [
        ["differs", "s1", "tables/t", "b", "test_acc"]
    ]
    assert frame.loc[0, "b_minus_a"] == pytest.approx(0.02)


def test_rows_match_by_name_not_position(tmp_path, capsys):
    def change(tree):
        tree["s1/tables/t.csv"].reverse()

    assert run_main(tmp_path, capsys, change)[0] == 0


def test_counts_are_shown_in_full(tmp_path, capsys):
    def change(tree):
        tree["s1/runs/a/metrics.json"]["epochs"] = 11173962

    code, out = run_main(tmp_path, capsys, change, detail=True)
    assert code == 1 and "| s1 | runs/a | – | epochs | 2 | 11173962 | +11173960 |" in out


def test_changed_metrics_leaf_and_text_and_attribute(tmp_path, capsys):
    def change(tree):
        tree["s1/evals/a/test/metrics.json"]["per_class"]["Bag"]["recall"] = 0.25
        tree["s1/runs/a/metrics.json"]["stopped_early"] = True
        tree["s1/tables/t.csv"][0]["note"] = "check"
        tree["s1/tables/t.csv"][0]["test_acc_sd"] = 0.03  # the mean is unchanged

    code, out = run_main(tmp_path, capsys, change, detail=True)
    assert code == 1
    assert "| s1 | evals/a/test | – | per_class.Bag.recall | 0.5 | 0.25 | -0.25 | – |" in out
    assert "| s1 | runs/a | – | stopped_early | False | True | changed |" in out
    assert "| s1 | tables/t | a | note | ok | check | changed |" in out
    assert (
        "| s1 | tables/t | a | test_acc | 0.9 [0.88, 0.92] | 0.9 [0.88, 0.92] | +0 | yes | sd 0.01 -> 0.03 |"
        in out
    )


def test_run_only_in_b_is_listed(tmp_path, capsys):
    def change(tree):
        tree["s1/runs/a--r1/metrics.json"] = tree["s1/runs/a/metrics.json"]

    code, out = run_main(tmp_path, capsys, change)
    assert code == 1
    assert "## Only in one set (1)" in out and "- only in B: `s1/runs/a--r1`" in out
    assert "## Differences" not in out  # the shared runs are still equal


def test_study_table_row_and_column_in_one_set_only(tmp_path, capsys):
    def change(tree):
        del tree["s2/tables/t.csv"]
        del tree["s1/tables/bn.csv"]
        tree["s1/tables/t.csv"][0]["extra"] = 1.0
        tree["s1/tables/t.csv"][1]["extra"] = 2.0
        tree["s1/tables/t.csv"].append({"run": "c", "test_acc": 0.3})

    code, out = run_main(tmp_path, capsys, change)
    assert code == 1
    for line in (
        "study `s2`",
        "`s1/tables/bn`",
        "row `c` of `s1/tables/t`",
        "column `extra` of `s1/tables/t`",
    ):
        assert line in out
    assert "only in A: study `s2`" in out and "only in B: column `extra`" in out


@pytest.mark.parametrize(("tol", "expected"), [(0.001, 0), (0.0001, 1), (0.0, 1)])
def test_tolerance_is_an_absolute_difference(tmp_path, capsys, tol, expected):
    def change(tree):
        tree["s1/tables/bn.csv"][0]["eval:b"] = 0.2504
        tree["s1/probes/svm/metrics.json"]["test_acc"] = 0.6004

    code, out = run_main(tmp_path, capsys, change, tol=tol)
    assert code == expected
    assert ("| s1 | tables/bn | 4 | eval:b |" in out) == bool(expected)


def test_timing_differences_are_shown_apart_and_do_not_count(tmp_path, capsys):
    def change(tree):
        tree["s1/tables/t.csv"][0]["train_time_s"] = 99.0
        tree["s1/runs/a/metrics.json"].update(train_time_s=1.0, wall_time_s=2.0, images_per_s=5.0)
        tree["s1/probes/svm/metrics.json"]["train_time_s"] = 3.0
        tree["s1/runs/a/metrics.json"]["provenance"]["device"] = "cuda"  # never compared

    code, out = run_main(tmp_path, capsys, change)
    assert code == 0 and "no differences" in out
    assert "| timing (not compared) | 7 | 5 |" in out and "5 timing differences; --detail" in out
    assert "train_time_s" not in out  # listed with --detail only

    code, out = run_main(tmp_path / "detail", capsys, change, detail=True)
    timing = out.split("## Not compared: timing (5 of 7 differ)")[1]
    assert "| s1 | runs/a | – | images_per_s | 900 | 5 |" in timing
    assert "| s1 | tables/t | a | train_time_s | 12.5 | 99 |" in timing
    assert "provenance" not in out

    code, out = run_main(tmp_path / "with", capsys, change, include_timing=True, detail=True)
    assert code == 1 and "**Differs**: 5 values beyond" in out and "Not compared: timing" not in out
    assert "## Table cells that differ (1)" in out and "## Details that differ (4)" in out


@pytest.mark.parametrize(
    ("mean", "lo", "hi", "verdict"),
    [
        (0.91, 0.89, 0.93, "yes"),  # each mean inside the other's interval
        (0.95, 0.94, 0.96, "no"),
        (0.915, 0.91, 0.99, "only B in A"),  # A's 0.90 lies below B's interval
    ],
)
def test_intervals_give_the_within_verdict(tmp_path, capsys, mean, lo, hi, verdict):
    def change(tree):
        tree["s1/tables/t.csv"][0].update(test_acc=mean, test_acc_lo=lo, test_acc_hi=hi)

    code, out = run_main(tmp_path, capsys, change)
    assert code == 1
    assert f"| s1 | tables/t | a | test_acc | 0.9 [0.88, 0.92] | {mean:g} [{lo:g}, {hi:g}] |" in out
    row = next(line for line in out.splitlines() if "| a | test_acc |" in line)
    assert row.split(" | ")[7] == verdict


def test_arrays_are_compared_whole_and_curves_skipped(tmp_path, capsys):
    def change(tree):
        tree["s1/evals/a/test/metrics.json"]["confusion"] = [[2, 0], [0, 2]]
        tree["s1/evals/a/test/metrics.json"]["roc"]["per_class"]["Bag"]["fpr"] = [0, 1]
        tree["s1/evals/a/test/metrics.json"]["model"] = "elsewhere/model.pt"  # text: not a result

    code, out = run_main(tmp_path, capsys, change, detail=True)
    assert code == 1
    assert (
        "| s1 | evals/a/test | – | confusion | array[2x2] | array[2x2] | changed | – | max \\|B - A\\| 1 |"
        in out
    )
    assert "fpr" not in out and "model" not in out


def test_missing_values_equal_each_other_but_not_a_number(tmp_path, capsys):
    def change(tree):
        tree["s1/runs/a/metrics.json"]["val_acc"] = 0.5

    code, out = run_main(tmp_path, capsys, change)
    assert code == 1 and "| s1 | runs/a | – | val_acc | NaN | 0.5 | – |" in out


def test_bad_usage_is_one_line_and_exit_2(tmp_path, capsys):
    a, b = trees(tmp_path)
    assert main(tmp_path / "nowhere", b, 0.0, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "A is not a directory" in err and "nowhere" in err
    (tmp_path / "empty").mkdir()
    assert main(a, tmp_path / "empty", 0.0, tmp_path / "out") == 2
    assert "B holds no results" in capsys.readouterr().err
    assert main(a, b, -1.0, tmp_path / "out") == 2
    (b / "s1" / "runs" / "a" / "metrics.json").write_text("{not json")
    assert main(a, b, 0.0, tmp_path / "out") == 2
    assert "s1/runs/a/metrics.json: not readable JSON" in capsys.readouterr().err


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(SCRIPT), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=60)


def test_command_line_tolerance_exit_codes_and_default_out_dir(tmp_path):
    def change(tree):
        tree["s1/tables/t.csv"][0]["test_acc"] = 0.9005

    a, b = trees(tmp_path, change)
    above = run_cli(str(a), str(b), cwd=tmp_path)
    assert above.returncode == 1, above.stderr
    assert "| s1 | tables/t | a | test_acc |" in above.stdout
    assert (tmp_path / "compare" / "compare.md").read_text() == above.stdout
    below = run_cli(str(a), str(b), "--tol", "0.001", "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert below.returncode == 0 and "no differences" in below.stdout
    assert (tmp_path / "o" / "compare.csv").exists()
    missing = run_cli(str(tmp_path / "nowhere"), str(b), cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.strip().endswith("nowhere")
    assert run_cli(str(a), cwd=tmp_path).returncode == 2  # argparse: B missing


def test_the_script_does_not_import_torch():
    assert heavy_imports("import compare_results", ("torch",)) == []


# A study shaped like the default study's results: a grid table with its paired comparisons
# (`<table>.compare.csv`: `a` repeats, one row per pair and column) and three evaluations with
# ten classes each, the per-class values that made a real comparison 360 lines long.
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]  # fmt: skip
RUNS = ["lr.lr_0.1", "lr.lr_0.01", "lr.lr_0.001"]


def evaluation(accuracy: float) -> dict:
    """An evaluate metrics.json as the workflow writes it."""
    scores = {
        "accuracy": accuracy,
        "precision": accuracy,
        "recall": accuracy,
        "f1": accuracy,
        "support": 1000,
    }
    curve = {"fpr": [0.0, 1.0], "tpr": [0.0, 1.0], "auc": 0.9}
    return {
        "test_images": 10000, "test_acc": accuracy, "classes": CLASSES,
        "per_class": {name: dict(scores) for name in CLASSES}, "macro_f1": accuracy,
        "confusion": [[100] * 10] * 10, "ece": 0.05,
        "roc": {"per_class": {name: dict(curve) for name in CLASSES}, "macro_auc": 0.9},
        "model": "results/grid/runs/lr/model.pt", "provenance": {"git_commit": "abc"},
    }  # fmt: skip


def study(accuracies: tuple[float, ...] = (0.8, 0.7, 0.6)) -> dict:
    tree = {
        "grid/tables/lr.csv": [
            {"run": run, "test_acc": acc, "test_acc_sd": 0.01, "test_acc_n": 3, "test_acc_lo": acc - 0.02,
             "test_acc_hi": acc + 0.02, "train_time_s": 9.0}
            for run, acc in zip(RUNS, accuracies, strict=True)
        ],
        "grid/tables/lr.compare.csv": [
            {"a": RUNS[0], "b": RUNS[1], "column": column, "diff": 0.1, "lo": 0.05, "hi": 0.15, "p": 0.01,
             "n": 3, "verdict": "real"}
            for column in ("train_acc", "test_acc")
        ],
    }  # fmt: skip
    for run, acc in zip(RUNS, accuracies, strict=True):
        tree[f"grid/runs/{run}/metrics.json"] = {
            "train_acc": acc,
            "val_loss": 1.0,
            "epochs": 3,
            "train_time_s": 9.0,
        }
        tree[f"grid/evals/{run}/test/metrics.json"] = evaluation(acc)
    return tree


def grid_trees(tmp_path: Path, change) -> tuple[Path, Path]:
    """A: two studies, s1 and grid; B: the same passed through `change`."""
    tree_b = {**copy.deepcopy(TREE), **study()}
    change(tree_b)
    return write_tree(tmp_path / "A", {**TREE, **study()}), write_tree(tmp_path / "B", tree_b)


def shift_per_class(tree: dict) -> None:
    """Every evaluation's per-class precision and recall moved: 60 detail differences."""
    for run in RUNS:
        for scores in tree[f"grid/evals/{run}/test/metrics.json"]["per_class"].values():
            scores["precision"] += 0.01
            scores["recall"] -= 0.01


def issue_case(tree: dict) -> None:
    """The report's case: a table cell, and many per-class values, differ."""
    shift_per_class(tree)
    tree["grid/tables/lr.csv"][1]["test_acc"] = 0.72


def test_the_summary_comes_first_and_per_class_values_are_counted_not_listed(tmp_path, capsys):
    a, b = grid_trees(tmp_path, issue_case)
    code = main(a, b, 0.0, tmp_path / "out")
    lines = capsys.readouterr().out.splitlines()
    assert code == 1 and lines[2] == "**Differs**: 61 values beyond |B - A| <= 0."
    first = "\n".join(lines[:20])
    assert "## Table cells that differ (1)" in first
    assert (
        "| grid | tables/lr | lr.lr_0.01 | test_acc | 0.7 [0.68, 0.72] | 0.72 [0.68, 0.72] | +0.02 | yes |"
        in first
    )
    assert "| details (per class, per evaluation) |" in first and "| 60 (60 per class) |" in first
    assert not any("per_class" in line for line in lines)
    assert lines[-1].startswith("Not listed: 60 detail differences; --detail to list them")
    assert len(lines) < 30  # fits a screen
    report = (tmp_path / "out" / "compare.md").read_text()  # the file keeps the details
    assert report.count("| per_class.") == 60 and report.index("Table cells") < report.index("Details")
    assert len(pd.read_csv(tmp_path / "out" / "compare.csv")) == 61


def test_detail_lists_the_per_class_values_after_the_summary(tmp_path, capsys):
    a, b = grid_trees(tmp_path, issue_case)
    assert main(a, b, 0.0, tmp_path / "out", detail=True) == 1
    out = capsys.readouterr().out
    assert out == (tmp_path / "out" / "compare.md").read_text() and "--detail to list" not in out
    row = "| grid | evals/lr.lr_0.1/test | – | per_class.Bag.recall | 0.8 | 0.79 | -0.01 | – |"
    assert row in out and out.index("| tables/lr | lr.lr_0.01 |") < out.index(row)
    assert "## Details that differ (60): per class and per evaluation" in out


def test_headline_metrics_are_in_the_summary_and_other_values_in_the_details(tmp_path, capsys):
    def change(tree):
        evaluation = tree["grid/evals/lr.lr_0.1/test/metrics.json"]
        evaluation.update(test_acc=0.81, ece=0.07, test_images=9999)
        evaluation["roc"]["macro_auc"] = 0.91
        evaluation["roc"]["per_class"]["Bag"]["auc"] = 0.5  # a class's AUC: a detail
        tree["grid/runs/lr.lr_0.1/metrics.json"].update(val_loss=1.5, epochs=4)

    a, b = grid_trees(tmp_path, change)
    assert main(a, b, 0.0, tmp_path / "out") == 1
    out = capsys.readouterr().out
    headline = out.split("## Headline metrics that differ (4)")[1]
    for column in ("test_acc", "ece", "roc.macro_auc", "val_loss"):
        assert f" – | {column} |" in headline
    assert "Not listed: 3 detail differences" in out
    assert " epochs " not in out and "per_class" not in out


def test_a_paired_comparison_row_names_its_pair_and_column(tmp_path, capsys):
    def change(tree):
        tree["grid/tables/lr.compare.csv"][1].update(diff=0.2, lo=0.16, hi=0.24, p=0.001)

    a, b = grid_trees(tmp_path, change)
    assert main(a, b, 0.0, tmp_path / "out") == 1
    out = capsys.readouterr().out
    label = "| grid | tables/lr.compare | lr.lr_0.1 - lr.lr_0.01 · test_acc |"
    assert f"{label} diff | 0.1 [0.05, 0.15] | 0.2 [0.16, 0.24] | +0.1 | no |" in out
    assert f"{label} p | 0.01 | 0.001 |" in out
    assert "train_acc |" not in out and "'" not in out  # the unchanged row; no primes
    frame = pd.read_csv(tmp_path / "out" / "compare.csv")
    assert set(frame["row"]) == {"lr.lr_0.1 - lr.lr_0.01 · test_acc"}


def both_studies_change(tree: dict) -> None:
    tree["s1/tables/t.csv"][0]["test_acc"] = 0.5
    tree["grid/tables/lr.csv"][0]["test_acc"] = 0.5


@pytest.mark.parametrize(
    ("studies", "with_s1"),
    [(["grid"], False), (["[grid]"], False), (["grid,s1"], True), (["grid", "s1"], True), (["all"], True)],
)
def test_the_study_filter_leaves_other_studies_out(tmp_path, capsys, studies, with_s1):
    a, b = grid_trees(tmp_path, both_studies_change)
    assert main(a, b, 0.0, tmp_path / "out", studies=studies) == 1
    out = capsys.readouterr().out
    assert "| grid | tables/lr | lr.lr_0.1 | test_acc |" in out
    assert ("| s1 | tables/t |" in out) == with_s1


def test_a_study_neither_set_has_is_bad_usage(tmp_path, capsys):
    a, b = grid_trees(tmp_path, both_studies_change)
    assert main(a, b, 0.0, tmp_path / "out", studies=["[grid, nothing]"]) == 2
    assert "no study nothing in A or B (there: grid, s1, s2)" in capsys.readouterr().err


def test_a_selected_study_in_one_set_only_differs(tmp_path, capsys):
    def drop_grid(tree):
        for name in [name for name in tree if name.startswith("grid/")]:
            del tree[name]

    a, b = grid_trees(tmp_path, drop_grid)
    assert main(a, b, 0.0, tmp_path / "out", studies=["grid"]) == 1
    assert "- only in A: study `grid`" in capsys.readouterr().out


def test_the_table_filter_keeps_the_table_and_its_comparisons_only(tmp_path, capsys):
    def change(tree):
        both_studies_change(tree)
        shift_per_class(tree)
        tree["grid/tables/lr.compare.csv"][0]["p"] = 0.02
        tree["grid/runs/lr.lr_0.1/metrics.json"]["train_acc"] = 0.1

    a, b = grid_trees(tmp_path, change)
    assert main(a, b, 0.0, tmp_path / "out", tables=["lr"]) == 1
    out = capsys.readouterr().out
    assert "| grid | tables/lr | lr.lr_0.1 | test_acc |" in out and "| tables/lr.compare |" in out
    assert "| s1 |" not in out and "runs/" not in out and "detail differences" not in out
    assert main(a, b, 0.0, tmp_path / "out", tables=["t"], studies=["grid"]) == 2
    assert "no table t in A or B (there: lr)" in capsys.readouterr().err  # t is s1's


def test_make_compare_passes_studies_on_as_the_study_filter(tmp_path):
    def dry_run(*variables: str) -> str:
        command = ["make", "-s", "-n", "-C", str(REPO), "compare", "A=x", "B=y", *variables]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout

    assert 'compare_results.py "x" "y" --tol 0 --study \'[grid, s1]\'' in dry_run("STUDIES=[grid, s1]")
    assert "--study" not in dry_run()


def test_command_line_filters_and_detail(tmp_path):
    a, b = grid_trees(tmp_path, issue_case)
    args = (str(a), str(b), "--out", str(tmp_path / "o"))
    summary = run_cli(*args, "--study", "[grid]", cwd=tmp_path)
    assert summary.returncode == 1 and "per_class" not in summary.stdout, summary.stderr
    detail = run_cli(*args, "--study", "grid", "--detail", cwd=tmp_path)
    assert detail.returncode == 1 and "per_class.Bag.recall" in detail.stdout
    same = run_cli(*args, "--study", "s1", cwd=tmp_path)
    assert same.returncode == 0 and "**Same** within |B - A| <= 0: no differences" in same.stdout
    assert run_cli(*args, "--table", "nothing", cwd=tmp_path).returncode == 2


def test_the_settings_that_differ_stand_in_the_summary(tmp_path, capsys):
    """Two result sets whose runs ran different recipes (a learning rate and an optimizer name):
    the summary names each changed key with both values and the runs, without --detail."""

    def with_recipe(tree: dict, lr: float, optimizer: str) -> dict:
        for run in RUNS:
            recipe = {"optimizer": {"name": optimizer, "lr": lr}, "augment": "flip", "epochs": 3}
            tree[f"grid/runs/{run}/metrics.json"]["recipe"] = recipe
        return tree

    a = write_tree(tmp_path / "A", with_recipe({**TREE, **study()}, 0.1, "sgd"))
    b = write_tree(tmp_path / "B", with_recipe({**copy.deepcopy(TREE), **study()}, 0.05, "adam"))
    assert main(a, b, 0.0, tmp_path / "out") == 1
    lines = capsys.readouterr().out.splitlines()
    first = "\n".join(lines[:20])
    assert "## Settings that differ (6 values)" in first
    assert (
        "- grid: `optimizer.lr` 0.1 -> 0.05 in 3 runs: `runs/lr.lr_0.001`, `runs/lr.lr_0.01` and 1 more"
        in first
    )
    assert "- grid: `optimizer.name` sgd -> adam in 3 runs:" in first
    assert "| settings (the recipe each run ran) | 12 | 6 |" in first  # lr, name, augment, epochs x 3 runs
    assert not any("augment" in line or "epochs`" in line for line in lines)  # unchanged keys stay out
