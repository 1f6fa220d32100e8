"""grid_scores: train, validation and test accuracy of each point of a grid run against its grid
value (S2's dropout graph), mean with sd error bars over each point's replicates."""

from cvrepro.report.figures.kind import FigureKind, metrics_on_test, read_metrics, rows_files
from cvrepro.report.grouping import Manifest
from cvrepro.study import Study, paths


def inputs(study: Study, figure: dict) -> Manifest:
    """Every job's training metrics and its test metrics."""
    train = rows_files(study, figure, lambda job: paths.job_file(study, job, "metrics.json"))
    return {"train": train, "test": metrics_on_test(study, figure)["jobs"]}


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report import plots

    train, test = read_metrics(inputs, "train"), read_metrics(inputs, "test")
    keys = list(spec["grid"][next(iter(train))])
    scores = {
        row: {
            "train_acc": [m["train_acc"] for m in train[row]],
            "val_acc": [m["val_acc"] for m in train[row] if m.get("val_acc") is not None],
            "test_acc": [m["test_acc"] for m in test[row]],
        }
        for row in train
    }
    if len(keys) == 1:  # the value itself on the x axis
        points = [(spec["grid"][row][keys[0]], scores[row]) for row in train]
    else:  # one labelled position per point
        points = [
            (", ".join(f"{k.rsplit('.', 1)[-1]}={spec['grid'][row][k]}" for k in keys), scores[row])
            for row in train
        ]
    plots.grid_scores(points, ", ".join(keys), out_png, spec["caption"])


KIND = FigureKind(("runs",), inputs, draw, max_runs=1, grid_rows=True)
