"""bn_sweep: accuracy against test batch size per BatchNorm mode, and against severity (S1)."""

from cvrepro.report.figures.kind import FigureKind, jobs, read_csvs
from cvrepro.study import Study, paths


def inputs(study: Study, figure: dict) -> list[str]:
    return [paths.sweep_file(study, figure["sweep"], job) for job in jobs(study, figure)]


def draw(spec: dict, inputs: list, out_png) -> None:
    from cvrepro.report import plots

    plots.bn_sweep(read_csvs(spec, inputs), out_png, spec["caption"])


KIND = FigureKind(("sweep",), inputs, draw)
