"""Build one results table (rule `table`): CSV and Markdown from the same data frame."""

import json
from pathlib import Path

import pandas as pd

from cvrepro.logs import log_to
from cvrepro.tables import provenance_line, run_table, sweep_table, to_markdown

# The rule's named inputs -> main's arguments.
INPUT_ARGUMENTS = {
    "train": "train_metrics",
    "test": "test_metrics",
    "pretrain": "pretrain_metrics",
    "probes": "probe_metrics",
    "sweeps": "sweeps",
}


def read_metrics(names: list[str], paths: list[Path]) -> dict[str, dict]:
    return {name: json.loads(Path(path).read_text()) for name, path in zip(names, paths, strict=True)}


def main(
    spec: dict,
    out_csv: Path,
    out_md: Path,
    train_metrics: list[Path] = (),
    test_metrics: list[Path] = (),
    pretrain_metrics: list[Path] = (),
    probe_metrics: list[Path] = (),
    sweeps: list[Path] = (),
) -> pd.DataFrame:
    train = read_metrics(spec["runs"], train_metrics)
    if spec.get("sweep"):
        frames = {run: pd.read_csv(path) for run, path in zip(spec["runs"], sweeps, strict=True)}
        frame = sweep_table(spec, frames)
        made_by = list(train.values())
    else:
        pretrain = read_metrics(spec.get("pretrain", []), pretrain_metrics)
        probes = read_metrics(spec.get("probes", []), probe_metrics)
        frame = run_table(spec, train, read_metrics(spec["runs"], test_metrics), probes, pretrain)
        made_by = [*train.values(), *pretrain.values(), *probes.values()]
    frame.to_csv(out_csv)
    Path(out_md).write_text(to_markdown(frame, spec.get("caption", ""), provenance_line(made_by)))
    print(frame.to_string())
    return frame


if __name__ == "__main__":
    inputs = snakemake.input
    with log_to(snakemake.log[0]):
        main(
            spec=snakemake.params.spec,
            out_csv=Path(snakemake.output.csv),
            out_md=Path(snakemake.output.md),
            **{
                argument: [Path(p) for p in inputs[role]]
                for role, argument in INPUT_ARGUMENTS.items()
                if role in inputs.keys()
            },
        )
