"""confusion: one row per cell of the confusion matrix of one run or probe (true class, predicted
class: its count), the report's counts beside them where it gives them (S3's matrices)."""

from __future__ import annotations

from cvrepro.report.grouping import Manifest, only_file, read_json
from cvrepro.report.tables import per_class
from cvrepro.report.tables.kind import Built, TableKind, with_reported


def build(spec: dict, inputs: Manifest) -> Built:
    from cvrepro.evaluate.per_class import class_name
    from cvrepro.report.table_markdown import provenance_line

    metrics = read_json(only_file(inputs["test"]))
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
    return Built(frame, provenance_line([read_json(only_file(inputs["made_by"]))], [metrics]))


# The same files as a per-class table: the source's test metrics and who made them.
KIND = TableKind(("source",), per_class.inputs, build, rows_from="source", reported_cells="matrix")
