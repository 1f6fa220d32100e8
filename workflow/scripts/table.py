"""Build one results table (rule `table`)."""

import json
from pathlib import Path

from cvrepro.logs import log_to
from cvrepro.tables import provenance_line, run_table, to_markdown


def read_metrics(names: list[str], paths: list[Path]) -> dict[str, dict]:
    return {name: json.loads(Path(path).read_text()) for name, path in zip(names, paths, strict=True)}


def main(
    spec: dict,
    train_metrics: list[Path],
    test_metrics: list[Path],
    out_csv: Path,
    out_md: Path,
    probe_metrics: list[Path] = (),
) -> None:
    train, test = read_metrics(spec["runs"], train_metrics), read_metrics(spec["runs"], test_metrics)
    probes = read_metrics(spec.get("probes", []), probe_metrics)
    frame = run_table(spec, train, test, probes)
    frame.to_csv(out_csv)
    footer = provenance_line(list(train.values())) if train else ""
    Path(out_md).write_text(to_markdown(frame, spec.get("caption", ""), footer))
    print(frame.to_string())


if __name__ == "__main__":
    with log_to(snakemake.log[0]):
        main(
            spec=snakemake.params.spec,
            train_metrics=[Path(p) for p in snakemake.input.train],
            test_metrics=[Path(p) for p in snakemake.input.test],
            probe_metrics=[Path(p) for p in snakemake.input.probes],
            out_csv=Path(snakemake.output.csv),
            out_md=Path(snakemake.output.md),
        )
