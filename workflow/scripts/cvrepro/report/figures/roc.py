"""roc: one-vs-rest ROC curves on the test set of each run or probe (replicate 0; its title names
it and gives the macro AUC of every replicate)."""

from cvrepro.report.figures.kind import METRICS, FigureKind, metrics_on_test, read_metrics
from cvrepro.report.grouping import Manifest


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report import plot_metrics

    plot_metrics.roc_curves(read_metrics(inputs), out_png, spec["caption"])


KIND = FigureKind(("runs",), metrics_on_test, draw, rows=METRICS)
