"""Result tables: one pandas DataFrame per table, written as CSV and as Markdown.

Two shapes. A *run table* has one row per run, pretraining or probe and the columns the study
lists. A *sweep table* (S1's BatchNorm table) has one row per test batch size and one column per
(BN mode, run), averaged over the shift set's corrupted conditions. Either way, where the study
gives the source report's number, `<column>_reported` and `<column>_diff` follow the column.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from cvrepro.per_class import COLUMNS as PER_CLASS_COLUMNS
from cvrepro.per_class import per_class_values, reported_by_row
from cvrepro.table_kinds import sweep_column

ACCURACY_COLUMNS = {"train_acc", "val_acc", "test_acc", "test_top5", "best_val_acc", "contrastive_acc"}
ACCURACY_COLUMNS |= {"precision", "recall", "f1"}  # per_class tables: fractions shown in percent


def run_values(train: dict, test: dict) -> dict:
    """A trained run's cells: its training metrics plus its test-set evaluation."""
    return {**train, "test_acc": test.get("accuracy"), "test_top5": test.get("top5_accuracy")}


def pretrain_values(metrics: dict) -> dict:
    """A pretraining's cells: its own objective's accuracy; the online probe as validation."""
    return {
        "contrastive_acc": metrics.get("contrastive_acc"),
        "val_acc": metrics.get("probe_acc"),
        "train_time_s": metrics.get("train_time_s"),
        "epochs": metrics.get("epochs"),
        "train_images": metrics.get("train_images"),
        "trained_params": metrics.get("trained_params"),
    }


def probe_values(metrics: dict) -> dict:
    """A probe's metrics under the run table's column names (fit time is its training time)."""
    return {
        "train_acc": metrics.get("train_acc"),
        "test_acc": metrics.get("test_acc"),
        "test_top5": metrics.get("top5_accuracy"),
        "train_time_s": metrics.get("fit_time_s"),
        "train_images": metrics.get("train_images"),
        "val_acc": metrics.get("val_acc"),  # minibatch_gd with a val subset: the last iteration's
        "iterations": metrics.get("iterations"),  # minibatch_gd: iterations run (early stopping)
        "silhouette": metrics.get("silhouette"),
        "dunn": metrics.get("dunn"),
    }


def with_reported(
    values_by_row: dict[str, dict], columns: list[str], reported: dict[str, dict]
) -> pd.DataFrame:
    """Rows in order, `columns` in order, each followed by `_reported`/`_diff` where the study
    reports that column for any row. A missing value (row not computed) is an empty cell."""
    reported_columns = {column for values in reported.values() for column in values}
    rows = []
    for name, values in values_by_row.items():
        row = {"run": name}
        for column in columns:
            ours = values.get(column)
            row[column] = ours
            if column in reported_columns:
                theirs = reported.get(name, {}).get(column)
                row[f"{column}_reported"] = theirs
                row[f"{column}_diff"] = ours - theirs if ours is not None and theirs is not None else None
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def run_table(
    spec: dict,
    train_metrics: dict[str, dict],
    test_metrics: dict[str, dict],
    probe_metrics: dict[str, dict] | None = None,
    pretrain_metrics: dict[str, dict] | None = None,
) -> pd.DataFrame:
    """Rows are runs, then pretrainings, then probes, in the spec's order."""
    values = {run: run_values(train_metrics.get(run, {}), test_metrics.get(run, {})) for run in spec["runs"]}
    values.update(
        {name: pretrain_values((pretrain_metrics or {}).get(name, {})) for name in spec["pretrain"]}
    )
    values.update({name: probe_values((probe_metrics or {}).get(name, {})) for name in spec["probes"]})
    return with_reported(values, spec["columns"], spec["reported"])


def sweep_table(spec: dict, sweeps: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows: test batch sizes. Columns: `<mode>:<run>`, mean accuracy over the corrupted
    conditions (severity > 0) in the spec's test order."""
    values: dict[str, dict] = {}
    columns = []
    for mode in spec["modes"]:
        for run, frame in sweeps.items():
            column = sweep_column(mode, run)
            columns.append(column)
            rows = frame[
                (frame["severity"] > 0) & (frame["mode"] == mode) & (frame["order"] == spec["order"])
            ]
            for batch_size, accuracy in rows.groupby("batch_size")["accuracy"].mean().items():
                values.setdefault(str(batch_size), {})[column] = float(accuracy)
    reported = {str(row): cells for row, cells in spec["reported"].items()}
    ordered = dict(sorted(values.items(), key=lambda item: int(item[0])))
    frame = with_reported(ordered, columns, reported)
    frame.index.name = "batch_size"
    return frame


def format_value(column: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    base = column.removesuffix("_reported").removesuffix("_diff")
    if base in ACCURACY_COLUMNS or ":" in base:  # sweep columns are accuracies too
        sign = "+" if column.endswith("_diff") and value > 0 else ""
        return f"{sign}{100 * value:.2f}" + (" pp" if column.endswith("_diff") else "%")
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 0.1 else f"{value:.3f}"
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


def provenance_line(metrics: list[dict], evaluations: list[dict] = ()) -> str:
    """Which commits, config hashes and devices made the rows of a table, and a warning when the
    rows (or their `evaluations`, checked for code only) were made by different code."""
    seen = [m.get("provenance", {}) for m in metrics if m]
    commits = sorted({p.get("git_commit") or "unknown" for p in seen})
    devices = sorted({p.get("device") or "unknown" for p in seen})
    hashes = ", ".join(p.get("config_hash", "?") for p in seen)
    warning = code_warning([*metrics, *evaluations])
    line = f"Made by commit {', '.join(commits)} on {'; '.join(devices)}; config hashes: {hashes}."
    return f"{line} {warning}" if warning else line


def code_warning(metrics: list[dict]) -> str:
    """'' when every row's code fingerprint (provenance `code`, and `eval_code` of evaluations)
    agrees on each module and pinned package; else a warning naming what differs. Commits cannot
    tell: a job reruns only when its own code changed, so rows of different commits may share code."""
    provenances = [m.get("provenance", {}) for m in metrics if m]
    prints = [p[key] for p in provenances for key in ("code", "eval_code") if isinstance(p.get(key), dict)]
    if not prints:  # results made before fingerprints were recorded: nothing to compare
        return ""
    seen: dict[tuple[str, str], set[str]] = {}
    for fingerprint in prints:
        for kind in ("modules", "packages"):
            for name, value in fingerprint.get(kind, {}).items():
                seen.setdefault((kind, name), set()).add(str(value))
    differ = [
        name if kind == "modules" else f"{name} {' vs '.join(sorted(values))}"
        for (kind, name), values in sorted(seen.items())
        if len(values) > 1
    ]
    unrecorded = sum(1 for p in provenances if "code" not in p)
    parts = [f"rows made by different code ({', '.join(differ)} differ)"] if differ else []
    if unrecorded:
        parts.append(f"{unrecorded} of {len(provenances)} results record no code fingerprint")
    return f"**Warning:** {'; '.join(parts)}." if parts else ""


def read_metrics(names: list[str], paths: list[Path]) -> dict[str, dict]:
    return {name: json.loads(Path(path).read_text()) for name, path in zip(names, paths, strict=True)}


def build_runs(spec: dict, inputs: dict[str, list[Path]]) -> tuple[pd.DataFrame, str]:
    """A run table from its inputs (see cvrepro.table_kinds): (frame, its provenance line)."""
    train = read_metrics(spec["runs"], inputs["train"])
    test = read_metrics(spec["runs"], inputs["test"])
    pretrain = read_metrics(spec["pretrain"], inputs["pretrain"])
    probes = read_metrics(spec["probes"], inputs["probes"])
    frame = run_table(spec, train, test, probes, pretrain)
    made_by = [*train.values(), *pretrain.values(), *probes.values()]
    return frame, provenance_line(made_by, list(test.values()))


def build_sweep(spec: dict, inputs: dict[str, list[Path]]) -> tuple[pd.DataFrame, str]:
    """A sweep table from its sweep CSVs; the runs' training metrics say who made it."""
    frames = {run: pd.read_csv(path) for run, path in zip(spec["runs"], inputs["sweeps"], strict=True)}
    return sweep_table(spec, frames), provenance_line(
        list(read_metrics(spec["runs"], inputs["train"]).values())
    )


def build_per_class(spec: dict, inputs: dict[str, list[Path]]) -> tuple[pd.DataFrame, str]:
    """Precision, recall, F1 and support per class of one run or probe, then the summary rows
    (cvrepro.per_class), with the report's values beside them."""
    metrics = json.loads(Path(inputs["test"][0]).read_text())
    reported = reported_by_row(spec["reported"], metrics["classes"], f"table of {spec['source']}")
    frame = with_reported(per_class_values(metrics), list(PER_CLASS_COLUMNS), reported)
    frame.index.name = "class"
    made_by = json.loads(Path(inputs["made_by"][0]).read_text())
    return frame, provenance_line([made_by], [metrics])
