"""per_class: precision, recall, F1 and support per class of one run or probe, then the summary
rows (cvrepro.evaluate.per_class), with the report's values beside them."""

from __future__ import annotations

from cvrepro.report.grouping import Manifest, only_file, read_json
from cvrepro.report.tables.kind import Built, TableKind, with_reported
from cvrepro.study import Study, paths


def inputs(study: Study, table: dict) -> Manifest:
    """The source's test metrics (replicate 0; a run's on the table's `test` if set) and the
    metrics of the job that made it (a run's training; a probe's own)."""
    job = study.jobs(table["source"])[0]
    return {
        "test": {job: [paths.test_metrics_file(study, job, table["test"])]},
        "made_by": {job: [paths.job_file(study, job, "metrics.json")]},
    }


def build(spec: dict, inputs: Manifest) -> Built:
    from cvrepro.evaluate.per_class import COLUMNS, per_class_values, reported_by_row
    from cvrepro.report.table_markdown import provenance_line

    metrics = read_json(only_file(inputs["test"]))
    reported = reported_by_row(spec["reported"], metrics["classes"], f"table of {spec['source']}")
    frame = with_reported(per_class_values(metrics), list(COLUMNS), reported)
    frame["support"] = frame["support"].round().astype("Int64")  # a count, not a mean
    frame.index.name = "class"
    return Built(frame, provenance_line([read_json(only_file(inputs["made_by"]))], [metrics]))


KIND = TableKind(("source",), inputs, build, rows_from="source")
