"""Draw one figure of a study (rule `figure`) with the function its kind declares."""

from pathlib import Path

from cvrepro.report.figures import FIGURE_KINDS
from cvrepro.report.grouping import Manifest
from cvrepro.report.rehearsal_marks import stamp_png


def main(spec: dict, inputs: Manifest, out_png: Path) -> None:
    """`spec`: the study's figure with `runs` and `split` resolved (see the rule's params), and
    `rehearsal: true` in a rehearsal (the figure then carries a band saying so); `inputs`: its
    files by role and row, as its kind declares them (cvrepro.report.grouping)."""
    if spec["kind"] not in FIGURE_KINDS:
        raise ValueError(f"unknown figure kind {spec['kind']!r}; choose from {list(FIGURE_KINDS)}")
    FIGURE_KINDS[spec["kind"]].draw(spec, inputs, Path(out_png))
    if spec.get("rehearsal"):
        stamp_png(Path(out_png))


if __name__ == "__main__":
    from cvrepro.jobs.job import job

    with job(snakemake):
        main(spec=snakemake.params.spec, inputs=snakemake.params.inputs, out_png=Path(snakemake.output.png))
