"""step_loss: the loss of every optimizer step (steps.csv) of each run or pretraining, S7's
"loss vs iterations"."""

from cvrepro.report.figures.kind import FigureKind, job_files, read_csvs
from cvrepro.report.grouping import Manifest


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report import plots

    plots.step_loss(read_csvs(inputs), out_png, spec["caption"])


KIND = FigureKind(("runs",), job_files("steps.csv"), draw, rows=("runs", "pretrain"))
