"""Every kind of figure a study can ask for, declared once: the keys it needs, the names its
`runs` may list, the files it reads, and the function that draws it (in cvrepro.report.figure_draw).

The config checks, the `figure` rule's inputs and workflow/scripts/plot.py all read this table,
so a new kind is one entry here plus one function there (and the schema's enum, which a test
holds equal to this table). Light: importable while Snakemake parses the workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cvrepro.study import Study, paths


@dataclass(frozen=True)
class FigureKind:
    needs: tuple[str, ...]  # keys that must be set (non-empty) for this kind
    inputs: Callable[[Study, dict], list[str]]  # the files the figure reads, in draw's order
    rows: tuple[str, ...] = ("runs",)  # sections whose names `runs` may list
    max_runs: int | None = None


def figure_groups(study: Study, figure: dict) -> list[tuple[str, list[str]]]:
    """(row, its jobs) for every row the figure draws: each run, pretraining or probe it lists
    (a grid run: each point), or each run of its BN sweep, with all replicates of that row."""
    names = study.bn_sweeps[figure["sweep"]]["runs"] if figure["sweep"] else figure["runs"]
    return [(row, study.replicas(row)) for name in names for row in study.rows(name)]


def _jobs(study: Study, figure: dict) -> list[str]:
    return [job for _, jobs in figure_groups(study, figure) for job in jobs]


def _histories(study: Study, figure: dict) -> list[str]:
    """history.csv of each job: per epoch (runs, pretrainings) or per iteration (probes)."""
    return [paths.job_file(study, job, "history.csv") for job in _jobs(study, figure)]


def _step_losses(study: Study, figure: dict) -> list[str]:
    """steps.csv of each training or pretraining job: the loss of every optimizer step."""
    return [paths.job_file(study, job, "steps.csv") for job in _jobs(study, figure)]


def _test_metrics(study: Study, figure: dict) -> list[str]:
    return [paths.test_metrics_file(study, job) for job in _jobs(study, figure)]


def _subset(study: Study, figure: dict) -> list[str]:
    files = paths.subset_files(study, figure["subset"])
    return [files["data"], files["index"]]


def _model_and_subset(study: Study, figure: dict) -> list[str]:
    """Replicate 0's model (the first job of the one row)."""
    return [paths.job_file(study, _jobs(study, figure)[0], "model.pt"), *_subset(study, figure)]


def _grad_flows(study: Study, figure: dict) -> list[str]:
    return [paths.job_file(study, job, "grad_flow.csv") for job in _jobs(study, figure)]


def _sweeps(study: Study, figure: dict) -> list[str]:
    return [paths.sweep_file(study, figure["sweep"], job) for job in _jobs(study, figure)]


def _shift_set(study: Study, figure: dict) -> list[str]:
    """The shift set's directory: clean.npz, one <corruption>-<severity>.npz per condition, info.json."""
    return [paths.shift_dir(study, figure["shift_set"])]


def _features(study: Study, figure: dict) -> list[str]:
    return [paths.features_file(study, figure["features"], "penultimate", figure["subset"])]


def _run_and_test_metrics(study: Study, figure: dict) -> list[str]:
    """Every job's training metrics, then every job's test metrics (a grid's points' scores)."""
    jobs = _jobs(study, figure)
    return [paths.job_file(study, job, "metrics.json") for job in jobs] + [
        paths.test_metrics_file(study, job) for job in jobs
    ]


METRICS = ("runs", "probes")  # test-set metrics: runs (their evaluation) and probes both have them

FIGURE_KINDS: dict[str, FigureKind] = {
    "training_curves": FigureKind(("runs",), _histories, rows=("runs", "pretrain")),
    "tsne": FigureKind(("features", "subset"), _features),
    "augmented_pairs": FigureKind(("subset",), _subset),
    "bn_sweep": FigureKind(("sweep",), _sweeps),
    "confusion": FigureKind(("runs",), _test_metrics, rows=METRICS),
    "roc": FigureKind(("runs",), _test_metrics, rows=METRICS),
    "class_accuracy": FigureKind(("runs",), _test_metrics, rows=METRICS),
    "grad_flow": FigureKind(("runs",), _grad_flows),
    "samples": FigureKind(("subset",), _subset),
    "activations": FigureKind(("runs", "subset", "layers"), _model_and_subset, max_runs=1),
    "probe_curves": FigureKind(("runs",), _histories, rows=("probes",)),
    "shift_samples": FigureKind(("shift_set",), _shift_set, rows=()),
    "grid_scores": FigureKind(("runs",), _run_and_test_metrics, max_runs=1),
    "step_loss": FigureKind(("runs",), _step_losses, rows=("runs", "pretrain")),
}
