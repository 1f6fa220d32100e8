"""training_curves: loss and accuracy per epoch of each run or pretraining, mean +- sd over its
replicates."""

from cvrepro.report.figures.kind import FigureKind, job_files, read_csvs
from cvrepro.report.grouping import Manifest


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report import plots

    plots.training_curves(read_csvs(inputs), out_png, spec["caption"])


KIND = FigureKind(("runs",), job_files("history.csv"), draw, rows=("runs", "pretrain"))
