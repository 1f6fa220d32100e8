"""bn_sweep: accuracy against test batch size per BatchNorm mode, and against severity (S1)."""

from cvrepro.report.figures.kind import FigureKind, read_csvs, rows_files
from cvrepro.report.grouping import Manifest
from cvrepro.study import Study, paths


def inputs(study: Study, figure: dict) -> Manifest:
    return {"jobs": rows_files(study, figure, lambda job: paths.sweep_file(study, figure["sweep"], job))}


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report import plots

    plots.bn_sweep(read_csvs(inputs), out_png, spec["caption"])


KIND = FigureKind(("sweep",), inputs, draw)
