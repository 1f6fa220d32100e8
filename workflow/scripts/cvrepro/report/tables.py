"""Result tables: one pandas DataFrame per table, built by its kind's `build_<kind>` from the
files cvrepro.report.table_kinds says it reads, and written as CSV and Markdown (cvrepro.report.table_markdown).

A *run table* has one row per run (a grid run: per point), pretraining or probe and the columns
the study lists, each summarised over the row's replicates (cvrepro.report.table_stats). A *sweep table*
(S1's BatchNorm table) has one row per test batch size and one column per (BN mode, run),
averaged over the shift set's corrupted conditions. A *per-class table* has a row per class.
Where the study gives the source report's number, `_reported`, `_diff` and `_verdict` follow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from cvrepro.evaluate.per_class import COLUMNS as PER_CLASS_COLUMNS
from cvrepro.evaluate.per_class import class_name, per_class_values, reported_by_row
from cvrepro.report.table_kinds import sweep_column
from cvrepro.report.table_markdown import provenance_line
from cvrepro.report.table_stats import comparisons, summarize


def run_values(train: dict, test: dict) -> dict:
    """A trained run's cells: its training metrics plus its test-set evaluation."""
    return {
        **train,
        "test_acc": test.get("accuracy"),
        "test_top5": test.get("top5_accuracy"),
        "test_images": test.get("n"),
    }


def pretrain_values(metrics: dict) -> dict:
    """A pretraining's cells: its own objective's accuracy; its probe's accuracy as validation
    (the refitted probe's, or the online probe's on probe_val) and the online probe's running
    training accuracy as train_acc (S6's 'TRAINING/VALIDATION PROBE ACCURACY')."""
    online = "probe_val_acc" in metrics or "probe_train_acc" in metrics
    return {
        "contrastive_acc": metrics.get("contrastive_acc"),
        "train_acc": metrics.get("probe_train_acc"),
        "val_acc": metrics.get("probe_val_acc") if online else metrics.get("probe_acc"),
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
        "test_images": metrics.get("n"),
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
    """Rows of single values (no replicates), `columns` in order, the report's numbers beside."""
    return summarize({row: [values] for row, values in values_by_row.items()}, columns, reported)


def run_table(spec: dict, rows: dict[str, list[dict]], grid: dict[str, dict]) -> pd.DataFrame:
    """One row per run (a grid run: per point), pretraining and probe, summarised over its
    replicates; the grid's keys first, as columns, when the table shows grid points."""
    frame = summarize(rows, spec["columns"], spec["reported"])
    keys = list(dict.fromkeys(key for values in grid.values() for key in values))
    for position, key in enumerate(keys):
        column = key.rsplit(".", 1)[-1]
        frame.insert(position, column, [_grid_cell(grid.get(row, {}).get(key)) for row in frame.index])
    return frame


def _grid_cell(value) -> str | None:
    return None if value is None else (", ".join(map(str, value)) if isinstance(value, list) else str(value))


def sweep_rows(spec: dict, sweeps: dict[str, list[pd.DataFrame]]) -> dict[str, list[dict]]:
    """Batch size -> one dict per replicate index of `<mode>:<run>` accuracies, each the mean
    over the corrupted conditions (severity > 0) in the spec's test order, and `images`."""
    rows: dict[str, list[dict]] = {}
    for mode in spec["modes"]:
        for run, frames in sweeps.items():
            column = sweep_column(mode, run)
            for k, frame in enumerate(frames):
                chosen = frame[
                    (frame["severity"] > 0) & (frame["mode"] == mode) & (frame["order"] == spec["order"])
                ]
                for batch_size, group in chosen.groupby("batch_size"):
                    replicates = rows.setdefault(str(batch_size), [])
                    while len(replicates) <= k:
                        replicates.append({})
                    replicates[k][column] = float(group["accuracy"].mean())
                    replicates[k]["images"] = int(group["images"].iloc[0]) if "images" in group else None
    return dict(sorted(rows.items(), key=lambda item: int(item[0])))


def sweep_table(spec: dict, sweeps: dict[str, list[pd.DataFrame]]) -> pd.DataFrame:
    """Rows: test batch sizes. Columns: `<mode>:<run>` for each mode and run of the sweep."""
    columns = [sweep_column(mode, run) for mode in spec["modes"] for run in sweeps]
    reported = {str(row): cells for row, cells in spec["reported"].items()}
    frame = summarize(sweep_rows(spec, sweeps), columns, reported)
    frame.index.name = "batch_size"
    return frame


class Built(NamedTuple):
    """A built table: the frame, the line that says who made it, and its paired comparisons."""

    frame: pd.DataFrame
    footer: str
    comparisons: pd.DataFrame | None = None


def _grouped(groups: list, files: list[Path], read) -> dict[str, list]:
    """row -> `read` of each of its jobs' files; `files` hold every job in `groups` order."""
    it = iter(files)
    return {row: [read(next(it)) for _ in jobs] for row, jobs in groups}


def _json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def build_runs(spec: dict, inputs: dict[str, list[Path]]) -> Built:
    """A run table from its inputs (see cvrepro.report.table_kinds): replicates summarised per row."""
    groups = spec["groups"]
    train = _grouped(groups["runs"], inputs["train"], _json)
    test = _grouped(groups["runs"], inputs["test"], _json)
    pretrain = _grouped(groups["pretrain"], inputs["pretrain"], _json)
    probes = _grouped(groups["probes"], inputs["probes"], _json)
    rows = {row: [run_values(a, b) for a, b in zip(train[row], test[row], strict=True)] for row in train}
    rows |= {row: [pretrain_values(m) for m in pretrain[row]] for row in pretrain}
    rows |= {row: [probe_values(m) for m in probes[row]] for row in probes}
    frame = run_table(spec, rows, spec["grid"])
    made_by = [m for group in (train, pretrain, probes) for ms in group.values() for m in ms]
    footer = provenance_line(made_by, [m for ms in test.values() for m in ms])
    return Built(frame, footer, comparisons(rows, spec["compare"], spec["columns"]))


def build_sweep(spec: dict, inputs: dict[str, list[Path]]) -> Built:
    """A sweep table from its sweep CSVs; the runs' training metrics say who made it."""
    sweeps = _grouped(spec["groups"], inputs["sweeps"], pd.read_csv)
    made_by = [_json(path) for path in inputs["train"]]
    return Built(sweep_table(spec, sweeps), provenance_line(made_by))


def build_per_class(spec: dict, inputs: dict[str, list[Path]]) -> Built:
    """Precision, recall, F1 and support per class of one run or probe, then the summary rows
    (cvrepro.evaluate.per_class), with the report's values beside them."""
    metrics = json.loads(Path(inputs["test"][0]).read_text())
    reported = reported_by_row(spec["reported"], metrics["classes"], f"table of {spec['source']}")
    frame = with_reported(per_class_values(metrics), list(PER_CLASS_COLUMNS), reported)
    frame["support"] = frame["support"].round().astype("Int64")  # a count, not a mean
    frame.index.name = "class"
    made_by = json.loads(Path(inputs["made_by"][0]).read_text())
    return Built(frame, provenance_line([made_by], [metrics]))


def build_confusion(spec: dict, inputs: dict[str, list[Path]]) -> Built:
    """One row per cell of the confusion matrix of one run or probe (true class, predicted
    class: its count), the report's counts beside them where it gives them."""
    metrics = json.loads(Path(inputs["test"][0]).read_text())
    classes, counts = metrics["classes"], metrics["confusion"]
    where = f"table of {spec['source']}"
    reported = {
        f"{true} -> {class_name(column, classes, f'{where}.reported.{row}')}": {"count": value}
        for row, cells in spec["reported"].items()
        for true in [class_name(row, classes, f"{where}.reported")]
        for column, value in cells.items()
    }
    values = {
        f"{true} -> {predicted}": {"count": counts[i][j]}
        for i, true in enumerate(classes)
        for j, predicted in enumerate(classes)
    }
    frame = with_reported(values, ["count"], reported)
    frame.index.name = "true -> predicted"
    made_by = json.loads(Path(inputs["made_by"][0]).read_text())
    return Built(frame, provenance_line([made_by], [metrics]))
