"""runs: one row per run (a grid run: per point), pretraining or probe, the study's columns
summarised over each row's replicates, paired comparisons (`compare`) beside."""

from __future__ import annotations

from cvrepro.report.grouping import Manifest, files_by_row, read_json, read_rows
from cvrepro.report.tables.kind import Built, TableKind, table_groups
from cvrepro.study import Study, paths


def inputs(study: Study, table: dict) -> Manifest:
    """Runs (training metrics + test evaluation), pretrainings and probes; every job of each row."""
    groups = table_groups(study, table)
    metrics = lambda job: paths.job_file(study, job, "metrics.json")  # noqa: E731
    return {
        "train": files_by_row(groups["runs"], metrics),
        "test": files_by_row(groups["runs"], lambda run: paths.test_metrics_file(study, run, table["test"])),
        "pretrain": files_by_row(groups["pretrain"], metrics),
        "probes": files_by_row(groups["probes"], metrics),
    }


# What a run's test evaluation (evals/<run>/<test>/metrics.json) adds to its row.
TEST_COLUMNS = ("test_acc", "test_top5", "test_images")


def run_values(train: dict, test: dict) -> dict:
    """A trained run's cells: its training metrics plus its test-set evaluation's."""
    return {**train, **{column: test.get(column) for column in TEST_COLUMNS}}


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


def run_table(spec: dict, rows: dict[str, list[dict]], grid: dict[str, dict]):
    """One row per run (a grid run: per point), pretraining and probe, summarised over its
    replicates; the grid's keys first, as columns, when the table shows grid points."""
    from cvrepro.report.table_stats import summarize

    frame = summarize(rows, spec["columns"], spec["reported"])
    keys = list(dict.fromkeys(key for values in grid.values() for key in values))
    for position, key in enumerate(keys):
        column = key.rsplit(".", 1)[-1]
        frame.insert(position, column, [_grid_cell(grid.get(row, {}).get(key)) for row in frame.index])
    return frame


def _grid_cell(value) -> str | None:
    return None if value is None else (", ".join(map(str, value)) if isinstance(value, list) else str(value))


def build(spec: dict, inputs: Manifest) -> Built:
    """Replicates summarised per row, and the paired comparisons the study asks for."""
    from cvrepro.report.table_markdown import provenance_line
    from cvrepro.report.table_stats import comparisons

    train, test, pretrain, probes = (
        read_rows(inputs[role], read_json) for role in ("train", "test", "pretrain", "probes")
    )
    rows = {row: [run_values(a, b) for a, b in zip(train[row], test[row], strict=True)] for row in train}
    rows |= {row: [pretrain_values(m) for m in pretrain[row]] for row in pretrain}
    rows |= probes  # a probe's metrics.json names its cells as a run's row does
    frame = run_table(spec, rows, spec["grid"])
    made_by = [m for group in (train, pretrain, probes) for ms in group.values() for m in ms]
    footer = provenance_line(made_by, [m for ms in test.values() for m in ms])
    return Built(frame, footer, comparisons(rows, spec["compare"], spec["columns"]))


KIND = TableKind((), inputs, build)
