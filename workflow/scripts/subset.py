"""Draw one subset of a prepared split (rule `subset`)."""

import json
from pathlib import Path

import numpy as np

from cvrepro.data.datasets.splits import load_split
from cvrepro.data.subsets import class_counts, draw_subset
from cvrepro.jobs.logs import log_to


def main(
    data_dir: Path,
    split: str,
    out_index: Path,
    out_summary: Path,
    size: int | None = None,
    classes: int | None = None,
    seed: int = 0,
    within: Path | None = None,
    exclude: list[Path] | tuple = (),
    stratified: bool = True,
) -> np.ndarray:
    labels = load_split(data_dir, split).labels
    index = draw_subset(
        labels,
        size=size,
        seed=seed,
        classes=classes,
        within=np.load(within) if within else None,
        exclude=[np.load(path) for path in exclude],
        stratified=stratified,
    )
    Path(out_index).parent.mkdir(parents=True, exist_ok=True)
    np.save(out_index, index)
    counts = class_counts(labels, index)
    summary = {"split": split, "size": int(len(index)), "seed": seed, "per_class": counts}
    Path(out_summary).write_text(json.dumps(summary, indent=2) + "\n")
    spread = f"{min(counts.values())}-{max(counts.values())}" if counts else "0"
    print(f"{len(index)} images from {data_dir}/{split}; {len(counts)} classes, {spread} per class")
    return index


if __name__ == "__main__":
    spec = snakemake.params.spec
    refs = snakemake.params.refs  # subset name -> its index file
    with log_to(snakemake.log[0]):
        main(
            data_dir=Path(snakemake.input.data),
            split=spec["split"],
            out_index=Path(snakemake.output.index),
            out_summary=Path(snakemake.output.summary),
            size=spec["size"],
            classes=spec["classes"],
            seed=spec["seed"],
            within=refs.get(spec["within"]) if spec["within"] else None,
            exclude=[refs[name] for name in spec["exclude"]],
            stratified=spec["draw"] == "stratified",
        )
