"""Result tables: one pandas DataFrame, written as CSV and as Markdown."""

from __future__ import annotations

import math

import pandas as pd

ACCURACY_COLUMNS = {"train_acc", "val_acc", "test_acc"}


def probe_values(metrics: dict) -> dict:
    """A probe's metrics under the run table's column names."""
    return {
        "train_acc": metrics.get("train_acc"),
        "test_acc": metrics.get("test_acc"),
        "train_time_s": metrics.get("fit_time_s"),
        "train_images": metrics.get("train_images"),
    }


def run_table(
    spec: dict,
    train_metrics: dict[str, dict],
    test_metrics: dict[str, dict],
    probe_metrics: dict[str, dict] | None = None,
) -> pd.DataFrame:
    """Rows are runs then probes, columns as the spec lists them; a reported value adds
    `<col>_reported` and `<col>_diff`. A row without metrics shows empty cells."""
    rows = []
    values_by_row = {
        run: {**train_metrics.get(run, {}), "test_acc": test_metrics.get(run, {}).get("accuracy")}
        for run in spec["runs"]
    }
    values_by_row.update(
        {probe: probe_values((probe_metrics or {}).get(probe, {})) for probe in spec.get("probes", [])}
    )
    for run, values in values_by_row.items():
        row = {"run": run}
        reported = spec["reported"].get(run, {})
        for column in spec["columns"]:
            ours = values.get(column)
            row[column] = ours
            if any(column in r for r in spec["reported"].values()):
                theirs = reported.get(column)
                row[f"{column}_reported"] = theirs
                row[f"{column}_diff"] = ours - theirs if ours is not None and theirs is not None else None
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def format_value(column: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    base = column.removesuffix("_reported").removesuffix("_diff")
    if base in ACCURACY_COLUMNS:
        sign = "+" if column.endswith("_diff") and value > 0 else ""
        return f"{sign}{100 * value:.2f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def to_markdown(frame: pd.DataFrame, caption: str = "", footer: str = "") -> str:
    """A GitHub-flavoured Markdown table (no extra dependency), accuracies in percent."""
    header = [frame.index.name or ""] + list(frame.columns)
    lines = [f"**{caption}**", ""] if caption else []
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * len(frame.columns)) + "|")
    for index, row in frame.astype(object).iterrows():  # object: ints stay ints, not upcast floats
        cells = [str(index)] + [format_value(col, row[col]) for col in frame.columns]
        lines.append("| " + " | ".join(cells) + " |")
    if footer:
        lines += ["", footer]
    return "\n".join(lines) + "\n"


def provenance_line(metrics: list[dict]) -> str:
    """Which commits, config hashes and devices made the runs of a table."""
    seen = [m.get("provenance", {}) for m in metrics]
    commits = sorted({p.get("git_commit", "unknown") for p in seen})
    devices = sorted({p.get("device", "unknown") for p in seen})
    hashes = ", ".join(p.get("config_hash", "?") for p in seen)
    return f"Made by commit {', '.join(commits)} on {'; '.join(devices)}; run config hashes: {hashes}."
