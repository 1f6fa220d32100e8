"""sweep: S1's BatchNorm table, one row per test batch size and one column per (BN mode, run),
each the mean accuracy over the shift set's corrupted conditions."""

from __future__ import annotations

from cvrepro.report.grouping import Manifest, files_by_row, read_json, read_rows
from cvrepro.report.tables.kind import Built, TableKind, sweep_column, table_groups
from cvrepro.study import Study, paths


def inputs(study: Study, table: dict) -> Manifest:
    """The BN sweep's CSV of each job of its runs, and their training metrics (provenance)."""
    groups = table_groups(study, table)
    return {
        "sweeps": files_by_row(groups, lambda job: paths.sweep_file(study, table["sweep"], job)),
        "train": files_by_row(groups, lambda job: paths.job_file(study, job, "metrics.json")),
    }


def sweep_rows(spec: dict, sweeps: dict[str, list]) -> dict[str, list[dict]]:
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


def sweep_table(spec: dict, sweeps: dict[str, list]):
    """Rows: test batch sizes. Columns: `<mode>:<run>` for each mode and run of the sweep."""
    from cvrepro.report.table_stats import summarize

    columns = [sweep_column(mode, run) for mode in spec["modes"] for run in sweeps]
    reported = {str(row): cells for row, cells in spec["reported"].items()}
    frame = summarize(sweep_rows(spec, sweeps), columns, reported)
    frame.index.name = "batch_size"
    return frame


def build(spec: dict, inputs: Manifest) -> Built:
    """From the sweep CSVs; the runs' training metrics say who made it."""
    import pandas as pd

    from cvrepro.report.table_markdown import provenance_line

    sweeps = read_rows(inputs["sweeps"], pd.read_csv)
    made_by = [metrics for ms in read_rows(inputs["train"], read_json).values() for metrics in ms]
    return Built(sweep_table(spec, sweeps), provenance_line(made_by))


KIND = TableKind(("sweep",), inputs, build, rows_from="sweep")
