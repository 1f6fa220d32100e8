"""Build one results table (rule `table`): CSV and Markdown from the same data frame."""

from pathlib import Path

import pandas as pd

from cvrepro import tables
from cvrepro.table_kinds import TABLE_KINDS


def main(spec: dict, inputs: dict[str, list[Path]], out_csv: Path, out_md: Path, log=print) -> pd.DataFrame:
    """`spec`: the study's table (for a sweep table, `runs` = the sweep's runs); `inputs`: the
    files of each role its kind reads (cvrepro.table_kinds)."""
    if spec["kind"] not in TABLE_KINDS:
        raise ValueError(f"unknown table kind {spec['kind']!r}; choose from {list(TABLE_KINDS)}")
    frame, made_by = getattr(tables, f"build_{spec['kind']}")(spec, inputs)
    frame.to_csv(out_csv)
    Path(out_md).write_text(tables.to_markdown(frame, spec["caption"], made_by))
    log(frame.to_string())
    return frame


if __name__ == "__main__":
    from cvrepro.job import job

    with job(snakemake):
        main(
            spec=snakemake.params.spec,
            inputs={role: [Path(p) for p in snakemake.input[role]] for role in snakemake.input.keys()},
            out_csv=Path(snakemake.output.csv),
            out_md=Path(snakemake.output.md),
        )
