"""roc: one-vs-rest ROC curves on the test set of each run or probe (replicate 0)."""

from cvrepro.report.figures.kind import METRICS, FigureKind, first, metrics_on_test, read_metrics
from cvrepro.report.grouping import Manifest


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report import plots

    plots.roc_curves(first(read_metrics(inputs)), out_png, spec["caption"])


KIND = FigureKind(("runs",), metrics_on_test, draw, rows=METRICS)
