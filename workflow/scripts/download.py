"""Fetch one original file of a dataset (rule `download`)."""

from pathlib import Path

from cvrepro.datasets.download import fetch
from cvrepro.datasets.registry import get_dataset
from cvrepro.logs import log_to


def main(dataset: str, dest: Path, search_dirs: list[Path]) -> Path:
    path = fetch(get_dataset(dataset), Path(dest).name, Path(dest), search_dirs)
    print(f"{dataset}: {path}")
    return path


if __name__ == "__main__":
    with log_to(snakemake.log[0]):
        main(
            snakemake.wildcards.dataset,
            Path(snakemake.output[0]),
            [Path(p) for p in snakemake.params.search_dirs],
        )
