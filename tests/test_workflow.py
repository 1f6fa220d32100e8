"""The workflow end to end on a tiny Fashion-MNIST study: outputs, no-op reruns, targeted reruns, lint."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from conftest import (
    REPO,
    SNAKEMAKE,
    TINY_STUDY,
    copy_finished,
    needs_fashion_mnist,
    planned_jobs,
    planned_wildcards,
    run_snakemake,
    tiny_config,
)

pytestmark = [pytest.mark.workflow, needs_fashion_mnist]


@pytest.fixture(scope="module")
def finished(finished_tiny, tmp_path_factory):
    """The tiny study run once (conftest); these tests dry-run against a copy of its outputs."""
    return copy_finished(finished_tiny, tmp_path_factory.mktemp("tiny") / "work")


def test_run_writes_table_and_figure(finished):
    table = pd.read_csv(finished / "results/tiny/tables/t.csv", index_col="run")
    assert list(table.index) == ["a", "b", "c", "d", "pix", "svm_ssl", "knn_b_layer3"]
    assert {"train_acc", "val_acc", "test_acc", "test_acc_reported", "test_acc_diff"} <= set(table.columns)
    assert table.loc["a", "test_acc_reported"] == 0.5
    assert abs(table.loc["a", "test_acc_diff"] - (table.loc["a", "test_acc"] - 0.5)) < 1e-12
    # One epoch on 200 images is about chance; learning itself is tested in test_engine/test_ssl_probes.
    assert table["test_acc"].between(0, 1).all() and table["test_acc"].notna().all()
    assert (finished / "results/tiny/pretrain/ssl/model.pt").exists()
    assert (finished / "results/tiny/features/ssl/penultimate/small.npz").exists()
    layer3 = np.load(finished / "results/tiny/features/b/layer3/test.npz")
    assert layer3["features"].shape == (500, 16)  # width 4 -> layer3 has 16 channels, pooled
    history = pd.read_csv(finished / "results/tiny/runs/a/history.csv")
    assert {
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "lr",
        "epoch_seconds",
        "images_per_s",
    } <= set(history.columns)
    markdown = (finished / "results/tiny/tables/t.md").read_text()
    assert "| run |" in markdown and "Made by commit" in markdown
    sweep = pd.read_csv(finished / "results/tiny/bn_sweeps/bn/b.csv")
    assert (
        len(sweep) == (1 + 2 * 2) * 3 * 2 * 2
    )  # (clean + 2 corruptions x 2 severities) x modes x sizes x orders
    assert set(sweep["mode"]) == {"eval", "train", "adapt"} and sweep["accuracy"].between(0, 1).all()
    grads = pd.read_csv(finished / "results/tiny/runs/b/grad_flow.csv")
    assert {"conv1.weight", "fc.weight"} <= set(grads["layer"]) and (grads["mean_abs_grad"] > 0).all()
    evaluation = json.loads((finished / "results/tiny/evals/b/test/metrics.json").read_text())
    assert 0 <= evaluation["ece"] <= 1 and 0 <= evaluation["roc"]["macro_auc"] <= 1
    for figure in (
        "curves",
        "embedding",
        "views",
        "bn",
        "confusion",
        "roc",
        "classes",
        "grads",
        "samples",
        "acts",
    ):
        assert (finished / f"results/tiny/figures/{figure}.png").read_bytes()[:4] == b"\x89PNG"
    assert (finished / "results/tiny/logs/train/a.log").read_text().count("epoch 1/1") == 1


def test_report_md_sweep_table_and_index(finished):
    report = (finished / "results/tiny/REPORT.md").read_text()
    for table in ("t", "ssl", "bn"):
        assert (finished / f"results/tiny/tables/{table}.md").read_text() in report
    assert "| t | a | test_acc | 50.00% |" in report  # reported vs ours
    assert "| bn | 4 | train:b | 10.00% |" in report
    for figure in TINY_STUDY["figures"]:
        assert f"(figures/{figure}.png)" in report
    assert "| b | run | cpu" in report and "| ssl | pretraining | cpu" in report
    assert "train-mode BatchNorm at test batch size 4" in report  # an automatic caveat
    bn = pd.read_csv(finished / "results/tiny/tables/bn.csv", index_col="batch_size")
    assert list(bn.index) == [4, 64] and bn["train:b_reported"].tolist()[0] == 0.1
    ssl = pd.read_csv(finished / "results/tiny/tables/ssl.csv", index_col="run")
    assert 0 <= ssl.loc["ssl", "contrastive_acc"] <= 1 and 0 <= ssl.loc["svm_ssl", "test_acc"] <= 1
    assert "[tiny](tiny/REPORT.md)" in (finished / "results/REPORT.md").read_text()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def html_report(finished):
    """`snakemake --report` of the finished tiny study: (the HTML file, what Snakemake printed)."""
    html = finished / "report.html"
    made = subprocess.run(
        [
            str(SNAKEMAKE),
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(finished),
            "--configfile",
            str(finished / "config.yaml"),
            "--report",
            str(html),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    return html, made.stdout + made.stderr


def test_html_report_has_no_docutils_messages_and_shows_captions_as_written(html_report):
    """docutils reports markup errors as `(ERROR/3) ...` and renders them into the page; a
    caption's `|gradient|` once became an undefined substitution."""
    html, printed = html_report
    assert not re.findall(r"\((?:INFO|WARNING|ERROR|SEVERE)/\d\)", printed), printed[-3000:]
    raw = html.read_text()
    assert "System Message" not in raw and "Undefined substitution" not in raw
    assert "Mean |gradient| per layer, *last* epoch_" in raw


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it as root)")
def test_snakemake_html_report_renders_in_headless_chromium(html_report):
    html, _ = html_report
    raw = html.read_text()
    for item in ["tables/t.csv", "tables/bn.csv", "figures/acts.png", "figures/curves.png"]:
        assert item in raw, item  # report() on every table and figure
    browser = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
            "--dump-dom",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert browser.returncode == 0, browser.stderr[-3000:]
    app = browser.stdout[browser.stdout.find('<div id="app">') :]
    app = re.sub(r"<[^>]+>", " ", app[: app.find("<script")])
    # React rendered the page: the workflow description from workflow/report/workflow.rst is in the DOM.
    assert "cvrepro: the seed reports" in app and "Results" in app
    errors = [
        line
        for line in browser.stderr.splitlines()
        if "CONSOLE" in line and re.search(r"Uncaught|Error", line)
    ]
    assert not errors, errors


def test_nothing_changed_schedules_nothing(finished):
    result = run_snakemake(finished, tiny_config(), "-n", "--cores", "2")
    assert result.returncode == 0, result.stderr
    assert planned_jobs(result) == {}
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changing_one_learning_rate_reruns_that_run_and_its_dependents(finished):
    config = tiny_config()
    config["inline_studies"]["tiny"]["runs"]["a"]["optimizer"] = {"lr": 0.01}
    result = run_snakemake(finished, config, "-n", "--cores", "2")
    assert result.returncode == 0, result.stderr
    expected = {"train": 1, "evaluate": 1, "table": 1, "figure": 1, "report": 1, "report_index": 1, "all": 1}
    assert planned_jobs(result) == expected, result.stdout
    assert planned_wildcards(result, "train") == ["study=tiny, run=a"]


def test_changing_a_pretraining_run_reruns_the_runs_it_initialises(finished):
    config = tiny_config()
    config["inline_studies"]["tiny"]["runs"]["b"]["epochs"] = 2
    result = run_snakemake(finished, config, "-n", "--cores", "2")
    assert planned_wildcards(result, "train") == ["study=tiny, run=b", "study=tiny, run=c"], result.stdout


def test_lint_is_clean():
    import subprocess

    result = subprocess.run(
        [str(SNAKEMAKE), "--lint", "-s", str(REPO / "Snakefile")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_killed_training_resumes_and_matches_an_uninterrupted_run(tmp_path, finished_tiny):
    """SIGTERM a training job mid-run; the rerun resumes from the kept state and ends identically.
    Both directories start from the finished tiny study: its data and subsets are up to date."""
    import json
    import os
    import signal
    import subprocess
    import time

    config = tiny_config(
        runs={"long": {"train": "big", "epochs": 6}},
        tables={"t": {"runs": ["long"]}},
        figures={},
        probes={},
        bn_sweeps={},
    )
    reference = copy_finished(finished_tiny, tmp_path / "reference")
    assert run_snakemake(reference, config, "--cores", "1").returncode == 0

    killed = copy_finished(finished_tiny, tmp_path / "killed")
    import yaml

    (killed / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(killed),
        "--configfile",
        str(killed / "config.yaml"),
        "--cores",
        "1",
    ]
    # A state after every epoch (the default writes at most once a minute, and this run is shorter).
    every_epoch = {**os.environ, "CVREPRO_RESUME_EVERY_S": "0"}
    process = subprocess.Popen(
        command,
        cwd=killed,
        env=every_epoch,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    state = killed / "results/tiny/resume/long.pt"
    deadline = time.time() + 300
    while not state.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert state.exists(), "training never wrote its resumable state"
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)
    assert not (killed / "results/tiny/runs/long/model.pt").exists()
    assert state.exists(), "the resumable state must survive Snakemake's cleanup of a killed job"

    rerun = run_snakemake(killed, config, "--cores", "1", "--rerun-incomplete")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = (killed / "results/tiny/logs/train/long.log").read_text()
    assert "resuming after epoch" in log
    ours = json.loads((killed / "results/tiny/runs/long/metrics.json").read_text())
    theirs = json.loads((reference / "results/tiny/runs/long/metrics.json").read_text())
    for key in ("train_acc", "val_acc", "train_loss", "val_loss", "epochs"):
        assert ours[key] == theirs[key], key
    assert (
        pd.read_csv(killed / "results/tiny/runs/long/history.csv")["train_loss"].tolist()
        == pd.read_csv(reference / "results/tiny/runs/long/history.csv")["train_loss"].tolist()
    )
    # Every step's loss, those before the kill included, as the uninterrupted run's.
    assert pd.read_csv(killed / "results/tiny/runs/long/steps.csv").equals(
        pd.read_csv(reference / "results/tiny/runs/long/steps.csv")
    )
    assert not state.exists(), "the state is removed once the run finished"
