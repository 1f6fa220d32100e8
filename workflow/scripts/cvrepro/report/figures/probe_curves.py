"""probe_curves: batch and validation accuracy per iteration of gradient-descent probes (S7)."""

from cvrepro.report.figures.kind import FigureKind, first, job_files, read_csvs
from cvrepro.report.grouping import Manifest


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report import plots

    plots.probe_curves(first(read_csvs(inputs)), out_png, spec["caption"])


KIND = FigureKind(("runs",), job_files("history.csv"), draw, rows=("probes",), history_rows=True)
