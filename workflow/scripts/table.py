"""Build one results table (rule `table`): CSV and Markdown from the same data frame, and the
table's paired comparisons (`compare`) as a second CSV."""

from pathlib import Path

import pandas as pd

from cvrepro.report.grouping import Manifest
from cvrepro.report.rehearsal_marks import mark_frame, mark_markdown
from cvrepro.report.table_markdown import comparisons_markdown, to_markdown
from cvrepro.report.table_stats import comparisons as no_comparisons
from cvrepro.report.tables import TABLE_KINDS


def main(
    spec: dict, inputs: Manifest, out_csv: Path, out_md: Path, out_compare: Path, log=print
) -> pd.DataFrame:
    """`spec`: the study's table with its rows' `grid` values resolved by the rule (and
    `rehearsal: true` in a rehearsal); `inputs`: its files by role and row, as its kind declares
    them (cvrepro.report.grouping)."""
    if spec["kind"] not in TABLE_KINDS:
        raise ValueError(f"unknown table kind {spec['kind']!r}; choose from {list(TABLE_KINDS)}")
    built = TABLE_KINDS[spec["kind"]].build(spec, inputs)
    compared = built.comparisons if built.comparisons is not None else no_comparisons({}, [], [])
    frame = mark_frame(built.frame) if spec.get("rehearsal") else built.frame
    frame.to_csv(out_csv)
    compared.to_csv(out_compare, index=False)
    markdown = to_markdown(built.frame, spec["caption"], built.footer, spec["interval"])
    if not compared.empty:
        markdown += "\n" + comparisons_markdown(compared)
    if spec.get("rehearsal"):
        markdown = mark_markdown(markdown)
    Path(out_md).write_text(markdown)
    log(built.frame.to_string())
    return built.frame


if __name__ == "__main__":
    from cvrepro.jobs.job import job

    with job(snakemake):
        main(
            spec=snakemake.params.spec,
            inputs=snakemake.params.inputs,
            out_csv=Path(snakemake.output.csv),
            out_md=Path(snakemake.output.md),
            out_compare=Path(snakemake.output.compare),
        )
