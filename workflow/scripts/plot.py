"""Draw one figure of a study (rule `figure`), dispatching on the figure's kind."""

from pathlib import Path

import pandas as pd

from cvrepro.logs import log_to
from cvrepro.plots import training_curves

KINDS = ("training_curves",)


def main(spec: dict, inputs: list[Path], out_png: Path) -> None:
    kind = spec["kind"]
    if kind == "training_curves":
        histories = {run: pd.read_csv(path) for run, path in zip(spec["runs"], inputs, strict=True)}
        training_curves(histories, out_png, spec.get("caption", ""))
    else:
        raise ValueError(f"unknown figure kind {kind!r}; choose from {list(KINDS)}")


if __name__ == "__main__":
    with log_to(snakemake.log[0]):
        main(
            spec=snakemake.params.spec,
            inputs=[Path(p) for p in snakemake.input],
            out_png=Path(snakemake.output.png),
        )
