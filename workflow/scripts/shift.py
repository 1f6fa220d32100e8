"""Make one shift set: every (corruption, severity) copy of a subset (rule `shift`), corrupted
here or taken from the published CIFAR-10-C / CIFAR-100-C files."""

import json
from pathlib import Path

import numpy as np

from cvrepro.data.corruptions import corrupt
from cvrepro.data.datasets.splits import load_split
from cvrepro.jobs.logs import log_to


def published_images(
    published_dir: Path, corruption: str, severity: int, order: np.ndarray, labels: np.ndarray
):
    """Rows of the published file for these test images: severity s holds the whole test set
    at rows (s - 1) * N .. s * N, in the test split's order."""
    split = load_split(published_dir, corruption)
    per_severity = len(split) // 5
    rows = (severity - 1) * per_severity + order
    if order.max(initial=-1) >= per_severity or not np.array_equal(split.labels[rows], labels):
        raise ValueError(
            f"{published_dir}/{corruption}: its labels do not match the clean test split; "
            "is it the corrupted copy of this dataset's test set?"
        )
    return np.asarray(split.images[rows])


def main(
    data_dir: Path,
    split: str,
    index: Path,
    out_dir: Path,
    conditions: list[str],
    seed: int = 0,
    published_dir: Path | None = None,
) -> None:
    split_data = load_split(data_dir, split)
    order = np.sort(np.load(index))
    images, labels = np.asarray(split_data.images[order]), split_data.labels[order]
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez(out_dir / "clean.npz", images=images, labels=labels)
    for condition in conditions:
        name, severity = condition.rsplit("-", 1)
        if published_dir is None:
            shifted = corrupt(images, name, int(severity), seed)
        else:
            shifted = published_images(published_dir, name, int(severity), order, labels)
        np.savez(out_dir / f"{condition}.npz", images=shifted, labels=labels)
        print(f"{condition}: {len(images)} images")
    info = {
        "conditions": conditions,
        "classes": split_data.classes,
        "n": int(len(images)),
        "seed": seed,
        "source": "generated" if published_dir is None else str(published_dir),
    }
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
            published_dir=Path(snakemake.input.published) if "published" in snakemake.input.keys() else None,
        )
