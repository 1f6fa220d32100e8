"""Replicates, grids and uncertainty end to end: a tiny study with repeats: 3, a two-by-two grid
and a paired comparison, run through snakemake; the tables' statistics, verdicts and comparisons;
the console's progress lines; and that adding replicates only adds jobs."""

from __future__ import annotations

import copy
import re

import pandas as pd
import pytest

from conftest import (
    TINY_STUDY,
    copy_finished,
    needs_fashion_mnist,
    planned_jobs,
    planned_wildcards,
    run_snakemake,
)
from cvrepro.config import ConfigError, load_config
from cvrepro.report.stats import t_interval, wilson

pytestmark = [pytest.mark.workflow, needs_fashion_mnist]

STUDY = {
    "subsets": TINY_STUDY["subsets"],
    "run_defaults": TINY_STUDY["run_defaults"],
    "runs": {
        "a": {"train": "small", "repeats": 3},
        "b": {"train": "big", "repeats": 3},
        "g": {"train": "small", "grid": {"optimizer.lr": [0.01, 0.1], "batch_size": [32, 64]}},
    },
    "shift_sets": {"c": {"subset": "test", "corruptions": ["contrast"], "severities": [5]}},
    "bn_sweeps": {"bn": {"runs": ["a"], "shift_set": "c", "batch_sizes": [4, 64]}},
    "tables": {
        "t": {
            "runs": ["a", "b", "g"],
            "columns": ["train_acc", "test_acc", "train_time_s"],
            "compare": [["b", "a"]],
            # Planted: 0.5 for a (a tiny network after one epoch is far from it) and b's own mean,
            # filled in by the test from the results, for the two verdicts.
            "reported": {"a": {"test_acc": 0.999}},
        },
        "bn": {"kind": "sweep", "sweep": "bn", "modes": ["eval", "train"]},
    },
    "figures": {
        "curves": {"kind": "training_curves", "runs": ["a", "g"]},
        "bn": {"kind": "bn_sweep", "sweep": "bn"},
        "grid": {"kind": "grid_scores", "runs": ["g"]},
    },
}


def config(study: dict) -> dict:
    return {
        "studies": ["rep"],
        "device": "cpu",
        "threads": 1,
        "inline_studies": {"rep": copy.deepcopy(study)},
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory, finished_tiny):
    # From the finished tiny study: its downloaded and prepared data are up to date here.
    workdir = copy_finished(finished_tiny, tmp_path_factory.mktemp("replicates") / "work")
    result = run_snakemake(workdir, config(STUDY), "--cores", "2")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir, result


def test_replicates_and_grid_points_are_jobs_of_their_own(finished):
    workdir, _ = finished
    runs = workdir / "results/rep/runs"
    assert {p.name for p in runs.iterdir()} == {
        "a", "a.r1", "a.r2", "b", "b.r1", "b.r2",
        "g.lr_0.01.batch_size_32", "g.lr_0.01.batch_size_64", "g.lr_0.1.batch_size_32", "g.lr_0.1.batch_size_64",
    }  # fmt: skip
    seeds = [
        pd.read_json(runs / name / "metrics.json", typ="series")["recipe"]["seed"]
        for name in ("a", "a.r1", "a.r2")
    ]
    assert seeds == [0, 1, 2]


def test_table_shows_mean_sd_n_and_intervals(finished):
    workdir, _ = finished
    table = pd.read_csv(workdir / "results/rep/tables/t.csv", index_col="run")
    assert list(table.index) == [
        "a",
        "b",
        *[f"g.lr_{lr}.batch_size_{bs}" for lr in (0.01, 0.1) for bs in (32, 64)],
    ]
    for column in ("test_acc", "test_acc_sd", "test_acc_n", "test_acc_lo", "test_acc_hi", "lr", "batch_size"):
        assert column in table.columns, column
    assert table.loc["a", "test_acc_n"] == 3 and table.loc["g.lr_0.1.batch_size_64", "test_acc_n"] == 1
    values = [
        pd.read_json(workdir / f"results/rep/evals/{job}/test/metrics.json", typ="series")["test_acc"]
        for job in ("a", "a.r1", "a.r2")
    ]
    expected = t_interval(values)
    assert table.loc["a", "test_acc"] == pytest.approx(expected.mean)
    assert (table.loc["a", "test_acc_lo"], table.loc["a", "test_acc_hi"]) == pytest.approx(
        (expected.lo, expected.hi)
    )
    # n = 1: a Wilson interval from the 500 test images.
    one = table.loc["g.lr_0.1.batch_size_64"]
    assert (one["test_acc_lo"], one["test_acc_hi"]) == pytest.approx(wilson(one["test_acc"], 500))
    assert "train_time_s_sd" not in table.columns  # times show the mean only
    markdown = (workdir / "results/rep/tables/t.md").read_text()
    assert re.search(r"\| a \| .*\| [\d.]+ ± [\d.]+% \(n=3\) \|", markdown), markdown


def test_verdicts_and_paired_comparison(finished):
    workdir, _ = finished
    table = pd.read_csv(workdir / "results/rep/tables/t.csv", index_col="run")
    a = table.loc["a"]
    assert a["test_acc_reported"] == 0.999 and a["test_acc_diff"] == pytest.approx(a["test_acc"] - 0.999)
    assert a["test_acc_verdict"] == f"ours lower by {abs(a['test_acc'] - 0.999) * 100:.2f} pp"
    compare = pd.read_csv(workdir / "results/rep/tables/t.compare.csv")
    row = compare[compare["column"] == "test_acc"].iloc[0]
    accs = {
        job: pd.read_json(workdir / f"results/rep/evals/{job}/test/metrics.json", typ="series")["test_acc"]
        for job in ("a", "a.r1", "a.r2", "b", "b.r1", "b.r2")
    }
    diffs = [accs[f"b{s}"] - accs[f"a{s}"] for s in ("", ".r1", ".r2")]
    expected = t_interval(diffs)
    assert (row["a"], row["b"], row["n"]) == ("b", "a", 3)
    assert (row["diff"], row["lo"], row["hi"]) == pytest.approx((expected.mean, expected.lo, expected.hi))
    assert row["verdict"] == ("real" if expected.lo > 0 or expected.hi < 0 else "inconclusive at n = 3")
    report = (workdir / "results/rep/REPORT.md").read_text()
    assert "of 1 reported numbers lie within our 95% interval" in report
    assert "b - a, test_acc (t)" in report


def test_planted_number_inside_the_interval_is_within(finished, tmp_path):
    """Plant a's own mean as the report's number: the rebuilt table calls it `within`."""
    workdir, _ = finished
    table = pd.read_csv(workdir / "results/rep/tables/t.csv", index_col="run")
    study = copy.deepcopy(STUDY)
    study["tables"]["t"]["reported"] = {"a": {"test_acc": float(table.loc["a", "test_acc"])}}
    result = run_snakemake(workdir, config(study), "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    rebuilt = pd.read_csv(workdir / "results/rep/tables/t.csv", index_col="run")
    assert rebuilt.loc["a", "test_acc_verdict"] == "within"
    assert planned_jobs(run_snakemake(workdir, config(study), "-n", "--cores", "2")) == {}


def test_figures_of_replicates_and_grid_points(finished):
    workdir, _ = finished
    for figure in ("curves", "bn", "grid"):
        assert (workdir / f"results/rep/figures/{figure}.png").read_bytes()[:4] == b"\x89PNG", figure


def test_sweep_table_over_replicates(finished):
    workdir, _ = finished
    sweep = pd.read_csv(workdir / "results/rep/tables/bn.csv", index_col="batch_size")
    assert list(sweep.index) == [4, 64] and (sweep["train:a_n"] == 3).all()
    assert (workdir / "results/rep/bn_sweeps/bn/a.r2.csv").exists()


def test_console_shows_what_runs_progress_lines_and_where_the_report_is(finished):
    _, result = finished
    err = result.stderr
    assert re.search(
        r"cvrepro: \d+ jobs to run \(.*\d+ train.*\); \d+ GPU jobs; device cpu -> the CPU", err
    ), err[:3000]
    # The training job's epoch line, prefixed with study, rule and run, with an ETA.
    assert re.search(r"\[\d\d:\d\d:\d\d rep train a\.r1\] epoch 1/1 .* eta \d+s", err), err[-3000:]
    assert "cvrepro: done. Report: results/REPORT.md" in err


def test_adding_replicates_keeps_what_ran_and_only_adds_jobs(finished):
    workdir, _ = finished
    study = copy.deepcopy(STUDY)
    study["runs"]["a"]["repeats"] = study["runs"]["b"]["repeats"] = 4  # compared rows need the same n
    result = run_snakemake(workdir, config(study), "-n", "--cores", "2")
    assert result.returncode == 0, result.stderr
    assert planned_wildcards(result, "train") == ["study=rep, run=a.r3", "study=rep, run=b.r3"]
    assert planned_jobs(result)["evaluate"] == 2 and planned_jobs(result)["bn_sweep"] == 1


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"runs": {"a": {"train": "small", "repeats": 0}}},
            "runs.a.repeats: 0 is less than the minimum of 1",
        ),
        (
            {"runs": {"a": {"train": "small", "grid": {"optimizer.lrr": [0.1]}}}},
            "runs.a.grid.optimizer.lrr: not a key of a run",
        ),
        (
            {"runs": {"a": {"train": "small", "repeats": 2}, "b": {"train": "big"}, "g": {"train": "small"}}},
            "compare: 'b' has 1 replicates and 'a' 2",
        ),
    ],
)
def test_bad_replicate_settings_are_one_line_errors(change, message):
    study = {**copy.deepcopy(STUDY), **change}
    study["tables"] = {"t": STUDY["tables"]["t"]}
    study.pop("bn_sweeps"), study.pop("figures")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(config(study), "studies")
