"""class_accuracy: per-class bars of `metric` (recall, precision, f1) on the test set of each run or
probe (replicate 0)."""

from cvrepro.report.figures.kind import METRICS, FigureKind, first, metrics_on_test, read_metrics
from cvrepro.report.grouping import Manifest


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report import plots

    plots.class_accuracy_bars(first(read_metrics(inputs)), out_png, spec["caption"], spec["metric"])


KIND = FigureKind(("runs",), metrics_on_test, draw, rows=METRICS)
