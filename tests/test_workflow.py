"""The workflow end to end on a tiny Fashion-MNIST study: outputs, no-op reruns, targeted reruns, lint."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from conftest import REPO, SNAKEMAKE, needs_fashion_mnist, run_snakemake, tiny_config

pytestmark = [pytest.mark.workflow, needs_fashion_mnist]


def planned_jobs(result) -> set[tuple[str, str]]:
    """(rule, wildcards) of every job a dry run lists."""
    jobs, rule = set(), None
    for line in result.stdout.splitlines():
        if match := re.match(r"^(?:local)?rule (\w+):", line.strip()):
            rule = match.group(1)
        elif rule and line.strip().startswith("wildcards:"):
            jobs.add((rule, line.split(":", 1)[1].strip()))
            rule = None
        elif rule and line.strip().startswith("jobid:") is False and line.strip() == "":
            pass
    return jobs


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """Run the tiny study once; later tests dry-run against its outputs."""
    workdir = tmp_path_factory.mktemp("tiny")
    result = run_snakemake(workdir, tiny_config(), "--cores", "2")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def test_run_writes_table_and_figure(finished):
    table = pd.read_csv(finished / "results/tiny/tables/t.csv", index_col="run")
    assert list(table.index) == ["a", "b"]
    assert {"train_acc", "val_acc", "test_acc", "test_acc_reported", "test_acc_diff"} <= set(table.columns)
    assert table.loc["a", "test_acc_reported"] == 0.5
    assert abs(table.loc["a", "test_acc_diff"] - (table.loc["a", "test_acc"] - 0.5)) < 1e-12
    assert table["test_acc"].between(0.1, 1).all()  # 10 classes: better than nothing after one epoch
    markdown = (finished / "results/tiny/tables/t.md").read_text()
    assert "| run |" in markdown and "Made by commit" in markdown
    assert (finished / "results/tiny/figures/curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (finished / "results/tiny/logs/train/a.log").read_text().count("epoch 1/1") == 1


def test_nothing_changed_schedules_nothing(finished):
    result = run_snakemake(finished, tiny_config(), "-n", "--cores", "2")
    assert result.returncode == 0, result.stderr
    assert planned_jobs(result) == set()
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changing_one_learning_rate_reruns_that_run_and_its_dependents(finished):
    config = tiny_config()
    config["inline_studies"]["tiny"]["runs"]["a"]["optimizer"] = {"lr": 0.01}
    result = run_snakemake(finished, config, "-n", "--cores", "2")
    assert result.returncode == 0, result.stderr
    rules = sorted(rule for rule, _ in planned_jobs(result))
    wildcards = " ".join(w for _, w in planned_jobs(result))
    assert rules == ["all", "evaluate", "figure", "table", "train"], result.stdout
    assert "run=a" in wildcards and "run=b" not in wildcards


def test_lint_is_clean():
    import subprocess

    result = subprocess.run([str(SNAKEMAKE), "--lint", "-s", str(REPO / "Snakefile")], capture_output=True,
                            text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
