"""confusion: the test-set confusion matrix of each run or probe, row-normalised and averaged over
its replicates."""

from cvrepro.report.figures.kind import METRICS, FigureKind, metrics_on_test, read_metrics
from cvrepro.report.grouping import Manifest


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report import plot_metrics

    plot_metrics.confusion_heatmaps(read_metrics(inputs), out_png, spec["caption"])


KIND = FigureKind(("runs",), metrics_on_test, draw, rows=METRICS)
