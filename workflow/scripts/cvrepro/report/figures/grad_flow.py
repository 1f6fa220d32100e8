"""grad_flow: mean and max |gradient| per weight of each run trained with grad_flow (S5), the last
epoch or every step overlaid (grad_flow_per)."""

from cvrepro.report.figures.kind import FigureKind, first, job_files, read_csvs
from cvrepro.report.grouping import Manifest


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report.plot_gradients import gradient_flow

    gradient_flow(first(read_csvs(inputs)), out_png, spec["caption"], spec["scale"])


KIND = FigureKind(("runs",), job_files("grad_flow.csv"), draw)
