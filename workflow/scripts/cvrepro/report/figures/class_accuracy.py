"""class_accuracy: per-class bars of `metric` (recall, precision, f1) on the test set of each run or
probe, the mean over its replicates with sd error bars."""

from cvrepro.report.figures.kind import METRICS, FigureKind, metrics_on_test, read_metrics
from cvrepro.report.grouping import Manifest


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report import plot_metrics

    plot_metrics.class_accuracy_bars(read_metrics(inputs), out_png, spec["caption"], spec["metric"])


KIND = FigureKind(("runs",), metrics_on_test, draw, rows=METRICS)
