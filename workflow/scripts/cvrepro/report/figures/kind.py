"""What every figure kind declares (FigureKind), the files kinds read, and how they read them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cvrepro.report.grouping import Manifest, files_by_row, read_json, read_rows
from cvrepro.study import Study, paths


@dataclass(frozen=True)
class FigureKind:
    needs: tuple[str, ...]  # keys that must be set (non-empty) for this kind
    inputs: Callable[[Study, dict], Manifest]  # the files the figure reads, by role and row
    draw: Callable[[dict, Manifest, Path], None]  # (spec, its inputs by name, png)
    rows: tuple[str, ...] = ("runs",)  # sections whose names `runs` may list
    max_runs: int | None = None
    # The kind's own rule on the rows its `runs` name (the study's other sections at hand):
    # check(study, spec) -> what is wrong with `runs`, or None.
    check: Callable[[Study, dict], str | None] | None = None
    layer_names: bool = False  # `layers` and `classes` name layers of the run and classes of `subset`
    one_of: tuple[str, ...] = ()  # exactly one of these keys must be set (activations: runs or imagenet)


METRICS = ("runs", "probes")  # test-set metrics: runs (their evaluation) and probes both have them


def figure_groups(study: Study, figure: dict) -> list[tuple[str, list[str]]]:
    """(row, its jobs) for every row the figure draws: each run, pretraining or probe it lists
    (a grid run: each point), or each run of its BN sweep, with all replicates of that row."""
    names = study.bn_sweeps[figure["sweep"]]["runs"] if figure["sweep"] else figure["runs"]
    return [(row, study.replicas(row)) for name in names for row in study.rows(name)]


def jobs(study: Study, figure: dict) -> list[str]:
    return [job for _, row_jobs in figure_groups(study, figure) for job in row_jobs]


def rows_files(study: Study, figure: dict, file_of: Callable[[str], str]) -> dict[str, list[str]]:
    """row -> `file_of` each of its jobs, for every row the figure draws."""
    return files_by_row(figure_groups(study, figure), file_of)


def job_files(name: str) -> Callable[[Study, dict], Manifest]:
    """Inputs: file `name` (history.csv, steps.csv, grad_flow.csv, ...) of every job drawn."""
    return lambda study, figure: {
        "jobs": rows_files(study, figure, lambda job: paths.job_file(study, job, name))
    }


def metrics_on_test(study: Study, figure: dict) -> Manifest:
    return {"jobs": rows_files(study, figure, lambda job: paths.test_metrics_file(study, job))}


def subset(study: Study, figure: dict) -> Manifest:
    files = paths.subset_files(study, figure["subset"])
    return {"subset": {"data": [files["data"]], "index": [files["index"]]}}


# --- reading the inputs ---------------------------------------------------------------------------


def read_csvs(inputs: Manifest, role: str = "jobs") -> dict[str, list]:
    import pandas as pd

    return read_rows(inputs[role], pd.read_csv)


def read_metrics(inputs: Manifest, role: str = "jobs") -> dict[str, list[dict]]:
    return read_rows(inputs[role], read_json)


def first(grouped: dict[str, list]) -> dict:
    """Replicate 0 of each row (figures that draw one replicate per row), keyed by the row and,
    when it has several, which replicate is shown: `cnn_sgd (replicate 0 of 3)` (replicate k
    trains with the run's seed + k), so the panel says it is not the mean."""
    from cvrepro.report.plot_axes import replicate_note

    return {
        (f"{row} ({replicate_note(0, len(replicates))})" if len(replicates) > 1 else row): replicates[0]
        for row, replicates in grouped.items()
    }


def load_images(spec: dict, inputs: Manifest):
    import torch

    from cvrepro.data.tensors import load_subset

    files = inputs["subset"]
    return load_subset(Path(files["data"][0]), spec["split"], Path(files["index"][0]), torch.device("cpu"))
