"""Build one results table (rule `table`)."""

import json
from pathlib import Path

from cvrepro.logs import log_to
from cvrepro.tables import provenance_line, run_table, to_markdown


def main(
    spec: dict, train_metrics: list[Path], test_metrics: list[Path], out_csv: Path, out_md: Path
) -> None:
    train = {run: json.loads(Path(p).read_text()) for run, p in zip(spec["runs"], train_metrics, strict=True)}
    test = {run: json.loads(Path(p).read_text()) for run, p in zip(spec["runs"], test_metrics, strict=True)}
    frame = run_table(spec, train, test)
    frame.to_csv(out_csv)
    Path(out_md).write_text(
        to_markdown(frame, spec.get("caption", ""), provenance_line(list(train.values())))
    )
    print(frame.to_string())


if __name__ == "__main__":
    with log_to(snakemake.log[0]):
        main(
            spec=snakemake.params.spec,
            train_metrics=[Path(p) for p in snakemake.input.train],
            test_metrics=[Path(p) for p in snakemake.input.test],
            out_csv=Path(snakemake.output.csv),
            out_md=Path(snakemake.output.md),
        )
