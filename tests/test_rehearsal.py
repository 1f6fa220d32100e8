"""The seven seed studies rehearsed end to end (README "Before a long run"): each to a REPORT.md
with every table, figure, verdict and fidelity table it declares, each marked as a rehearsal,
beside a finished real run that the rehearsal never touches. The rehearsal's plan is tested in
tests/test_rehearsal_plan.py: this module is the suite's longest, so it holds only what needs the
rehearsal run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from conftest import EXAMPLE_STUDIES, SEED_STUDIES, copy_finished, planned_jobs, run_snakemake, tiny_config
from cvrepro.report.rehearsal_marks import NOTE

# --- the seven seed studies, rehearsed -----------------------------------------------------------


def tree_state(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under `root`: its sha256 and modification time."""
    return {
        str(path.relative_to(root)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def rehearsal_beside_a_real_run(tmp_path_factory, finished_tiny):
    """`make rehearse` of every seed study in a copy of a directory where the tiny study has
    finished for real: (workdir, the real trees' state before)."""
    workdir = copy_finished(finished_tiny, tmp_path_factory.mktemp("rehearsal") / "work")
    before = {name: tree_state(workdir / name) for name in ("results", "resources")}
    config = {**tiny_config(), "studies": SEED_STUDIES, "rehearsal": True}
    result = run_snakemake(workdir, config, "--cores", "2", timeout=1800)
    assert result.returncode == 0, result.stderr[-6000:]
    return workdir, before


@pytest.fixture(scope="module")
def rehearsed(rehearsal_beside_a_real_run):
    return rehearsal_beside_a_real_run[0] / "results-rehearsal"


@pytest.mark.workflow
def test_a_rehearsal_never_touches_a_finished_real_run(rehearsal_beside_a_real_run):
    """A rehearsal in a directory with a finished real run writes only its own trees: the real
    results/ and resources/ stay byte for byte (and mtime) as they were, and a later real run
    schedules nothing."""
    workdir, before = rehearsal_beside_a_real_run
    assert (workdir / "results-rehearsal" / "REPORT.md").exists() and (
        workdir / "resources-rehearsal"
    ).is_dir()
    assert {name: tree_state(workdir / name) for name in before} == before
    again = run_snakemake(workdir, tiny_config(), "-n", "--cores", "2")
    assert again.returncode == 0 and planned_jobs(again) == {}, again.stdout


@pytest.mark.workflow
@pytest.mark.parametrize("name", SEED_STUDIES)
def test_every_seed_study_rehearses_to_its_report(rehearsed, studies, name):
    study = studies[0][name]
    root = rehearsed / name
    report = (root / "REPORT.md").read_text()
    assert (
        report.startswith(f"# Rehearsal of study `{name}`") and "This is a rehearsal, not a result" in report
    )
    # an example study reproduces no report: no comparison with one (study_report)
    compared = ("Reported vs ours", "How far this study follows") if name not in EXAMPLE_STUDIES else ()
    for section in ("What the real run will cost", "Tables", *compared):
        assert f"## {section}" in report, section
    if name in EXAMPLE_STUDIES:
        assert "## Reported vs ours" not in report
    assert "| **all** |" in report  # the cost table's total
    for table, spec in study.tables.items():
        frame = pd.read_csv(root / "tables" / f"{table}.csv", index_col=0)
        assert (frame["rehearsal"] == NOTE).all()
        for column in (c for c in frame.columns if c.endswith("_reported")):
            assert f"{column.removesuffix('_reported')}_verdict" in frame.columns, (table, column)
        assert spec["reported"] == {} or any(c.endswith("_reported") for c in frame.columns), table
        assert (root / "tables" / f"{table}.md").read_text().startswith(f"_{NOTE}._")
    for figure in study.figures:
        png = root / "figures" / f"{figure}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"figures/{figure}.png" in report
    if study.spec["fidelity"]:
        assert "| what | the report | ours | status | why |" in report
    assert (rehearsed / "REPORT.md").read_text().startswith("# cvrepro rehearsal")


def test_rehearsed_probes_count_their_iterations_and_per_class_rows_name_classes(rehearsed):
    """S7's gradient-descent probes: the table's iterations are their history's rows (at most the
    rehearsal's 10); S4's per-class rows: class names, reported values keyed by class index,
    classification_report's accuracy row equal to the run's test accuracy."""
    s7 = rehearsed / "cifar10_linear_and_triplet"
    linear = pd.read_csv(s7 / "tables" / "linear.csv", index_col=0)
    for probe in ("softmax_pixels", "softmax_pixels_early_stop"):
        history = pd.read_csv(s7 / "probes" / probe / "history.csv")
        assert linear.loc[probe, "iterations"] == len(history) <= 10
    s4 = rehearsed / "tinyimagenet_losses" / "tables"
    rows = pd.read_csv(s4 / "per_class_ce_triplet.csv", index_col=0)
    assert rows.index[0] == "n01443537" and rows.loc["n01443537", "precision_reported"] == 0.84
    losses = pd.read_csv(s4 / "losses.csv", index_col=0)
    assert rows.loc["accuracy", "f1"] == pytest.approx(losses.loc["ce_triplet", "test_acc"])


def test_rehearsal_figures_carry_the_band(rehearsed):
    from PIL import Image

    with Image.open(rehearsed / "cifar100_subsets" / "figures" / "samples.png") as image:
        red, green, blue = image.convert("RGB").getpixel((2, 2))
    assert red > 150 and green < 80 and blue < 80


# --- a broken figure kind ------------------------------------------------------------------------
