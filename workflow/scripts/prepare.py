"""Prepare every split of a dataset (rule `prepare`)."""

from pathlib import Path

from cvrepro.data.datasets.prepare import prepare_dataset
from cvrepro.data.datasets.splits import read_info
from cvrepro.data.datasets.synthetic import synthetic_spec
from cvrepro.data.sources import is_declared
from cvrepro.jobs.logs import log_to


def main(
    dataset: str,
    download_dir: Path,
    out_dir: Path,
    options: dict,
    synthetic: bool = False,
    threads: int | None = None,
) -> dict:
    """`synthetic`: a rehearsal's originals, verified against the checksums of the synthetic files;
    `threads`: the job's threads, the processes a declared dataset decodes on (None: every core)."""
    # download_dir is the workflow's own resources/downloads/<dataset>: a file that fails
    # verification there is set aside, so that the next run's download rule fetches it again.
    if is_declared(options):  # a study's own dataset: its folder, CSV or torchvision class
        from cvrepro.data.sources._prepare import prepare_declared

        prepare_declared(dataset, options, out_dir, rehearsal=synthetic, workers=threads)
        return read_info(out_dir)
    spec = synthetic_spec(dataset) if synthetic else None
    prepare_dataset(dataset, download_dir, out_dir, options, spec=spec, set_aside_bad=True)
    info = read_info(out_dir)
    print(f"{dataset}: {info['splits']}, {len(info['classes'])} classes")
    return info


if __name__ == "__main__":
    with log_to(snakemake.log[0]):
        main(
            snakemake.wildcards.dataset,
            Path(snakemake.input[0]).parent if snakemake.input else None,
            Path(snakemake.output[0]),
            dict(snakemake.params.options),
            snakemake.params.synthetic,
            snakemake.threads,
        )
