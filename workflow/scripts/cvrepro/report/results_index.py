"""results/REPORT.md, the index of studies: one row per study with a REPORT.md under the results
directory, each row's numbers read from that study's own files, so a study that an earlier
invocation ran shows its numbers as fully as the ones this invocation selected."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from cvrepro.report.table_markdown import format_cell

# The job kinds whose metrics.json hold a training time (a run, a pretraining).
TRAINED = ("runs", "pretrain")
HEADLINE = "test_acc"


def description_of(report: Path) -> str:
    """The first line of prose of a study's REPORT.md (its description), or ""."""
    lines = [line.strip() for line in report.read_text().splitlines()[1:]]
    return next((line for line in lines if line and not line.startswith(("#", ">", "|", "!"))), "")


def best_accuracy(tables: Path) -> str:
    """The study's highest test accuracy in any of its tables, with its uncertainty, row and
    table (`76.7 ± 0.7% (n=3): scratch_5k in more_data`); "" when no table has one."""
    best: tuple[float, str] | None = None
    for path in sorted(tables.glob("*.csv")):
        if path.name.endswith(".compare.csv"):
            continue
        frame = pd.read_csv(path, index_col=0)
        if HEADLINE not in frame.columns:
            continue
        for row_name, row in frame.astype(object).iterrows():
            value = row[HEADLINE]
            if isinstance(value, float) and not math.isnan(value) and (best is None or value > best[0]):
                best = (value, f"{format_cell(HEADLINE, row)}: {row_name} in {path.stem}")
    return best[1] if best else ""


def study_numbers(study_dir: Path, metrics: list[Path] | None = None) -> dict:
    """A study's row from its files: trainings (a run's replicates and grid points each count),
    tables, figures, training minutes and the best test accuracy. `metrics`: the metrics.json
    files of its trainings when the caller knows them (this invocation's), else every one found."""
    if metrics is None:
        metrics = sorted(path for kind in TRAINED for path in (study_dir / kind).glob("*/metrics.json"))
    seconds = sum(json.loads(Path(path).read_text()).get("train_time_s") or 0 for path in metrics)
    return {
        "runs": len(metrics),
        "tables": sum(1 for path in (study_dir / "tables").glob("*.md")),
        "figures": sum(1 for path in (study_dir / "figures").glob("*.png")),
        "train_minutes": seconds / 60,
        "best": best_accuracy(study_dir / "tables"),
    }


def index_markdown(rows: dict[str, dict], rehearsal: bool) -> str:
    """results/REPORT.md from each study's row (name -> description, runs, tables, figures,
    train_minutes, best, and `selected`: whether this invocation made it)."""
    lines = [
        "# cvrepro rehearsal (synthetic data: the numbers mean nothing)\n"
        if rehearsal
        else "# cvrepro results\n",
        "| study | what it reproduces | trainings | tables | figures | training time (min) | best test accuracy |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for name, row in rows.items():
        summary = " ".join(row["description"].split())
        summary = summary if len(summary) <= 160 else summary[:157] + "..."
        if not row.get("selected", True):
            summary += " (an earlier run; not in this one's selection)"
        lines.append(
            f"| [{name}]({name}/REPORT.md) | {summary} | {row['runs']} | {row['tables']} | "
            f"{row['figures']} | {row['train_minutes']:.1f} | {row['best'] or '–'} |"
        )
    return "\n".join(lines) + "\n"


def results_index(
    results: Path, selected: dict[str, str], metrics: dict[str, list[Path]], rehearsal: bool
) -> str:
    """The index of every study with a REPORT.md under `results`: those this invocation ran
    (`selected`: name -> description; `metrics`: their trainings' files) first, then the others."""
    rows = {
        name: {"description": description, **study_numbers(results / name, metrics.get(name, []))}
        for name, description in selected.items()
    }
    for report in sorted(results.glob("*/REPORT.md")):
        name = report.parent.name
        if name not in rows:
            rows[name] = {
                "description": description_of(report),
                "selected": False,
                **study_numbers(report.parent),
            }
    return index_markdown(rows, rehearsal)
