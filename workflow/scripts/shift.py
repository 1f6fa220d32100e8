"""Make one shift set: every (corruption, severity) copy of a subset (rule `shift`)."""

import json
from pathlib import Path

import numpy as np

from cvrepro.datasets.prepared import load_split
from cvrepro.logs import log_to
from cvrepro.shift import corrupt


def main(
    data_dir: Path, split: str, index: Path, out_dir: Path, conditions: list[str], seed: int = 0
) -> None:
    split_data = load_split(data_dir, split)
    order = np.sort(np.load(index))
    images, labels = np.asarray(split_data.images[order]), split_data.labels[order]
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez(out_dir / "clean.npz", images=images, labels=labels)
    for condition in conditions:
        name, severity = condition.rsplit("-", 1)
        np.savez(
            out_dir / f"{condition}.npz", images=corrupt(images, name, int(severity), seed), labels=labels
        )
        print(f"{condition}: {len(images)} images")
    info = {"conditions": conditions, "classes": split_data.classes, "n": int(len(images)), "seed": seed}
    (out_dir / "info.json").write_text(json.dumps(info, indent=2) + "\n")


if __name__ == "__main__":
    with log_to(snakemake.log[0]):
        main(
            data_dir=Path(snakemake.input.data),
            split=snakemake.params.split,
            index=Path(snakemake.input.index),
            out_dir=Path(snakemake.output[0]),
            conditions=snakemake.params.conditions,
            seed=snakemake.params.seed,
        )
