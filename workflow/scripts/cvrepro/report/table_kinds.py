"""Every kind of table a study can ask for, declared once: the keys it needs, the files it reads
(by role), and the function that builds it (`build_<kind>` in cvrepro.report.tables).

The config checks, the `table` rule's inputs and workflow/scripts/table.py all read this table;
a test holds the schema's enum equal to it. Light: importable while Snakemake parses the workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cvrepro.study import Study, paths


@dataclass(frozen=True)
class TableKind:
    needs: tuple[str, ...]  # keys that must be set (non-empty) for this kind
    inputs: Callable[[Study, dict], dict[str, list[str]]]  # role -> files, in the order of the rows


def _groups(study: Study, names: list[str]) -> list[list]:
    """[row, its jobs] for every row the names stand for (grid points; replicates)."""
    return [[row, study.replicas(row)] for name in names for row in study.rows(name)]


def table_groups(study: Study, table: dict) -> dict[str, list[list]] | list[list]:
    """A run table's rows by section (runs, pretrain, probes), or a sweep table's runs, each
    [row, its jobs]: what the table's files are, in order, and how they group into rows."""
    if table["kind"] == "sweep":
        return _groups(study, study.bn_sweeps[table["sweep"]]["runs"])
    return {section: _groups(study, table[section]) for section in ("runs", "pretrain", "probes")}


def _jobs(groups: list[list]) -> list[str]:
    return [job for _, jobs in groups for job in jobs]


def _run_rows(study: Study, table: dict) -> dict[str, list[str]]:
    """Runs (training metrics + test evaluation), then pretrainings, then probes; every job."""
    groups = table_groups(study, table)
    runs = _jobs(groups["runs"])
    return {
        "train": [paths.job_file(study, run, "metrics.json") for run in runs],
        "test": [paths.test_metrics_file(study, run, table["test"]) for run in runs],
        "pretrain": [paths.job_file(study, name, "metrics.json") for name in _jobs(groups["pretrain"])],
        "probes": [paths.job_file(study, probe, "metrics.json") for probe in _jobs(groups["probes"])],
    }


def _sweep_rows(study: Study, table: dict) -> dict[str, list[str]]:
    """The BN sweep's CSV of each job of its runs, and their training metrics (provenance)."""
    runs = _jobs(table_groups(study, table))
    return {
        "sweeps": [paths.sweep_file(study, table["sweep"], run) for run in runs],
        "train": [paths.job_file(study, run, "metrics.json") for run in runs],
    }


def _per_class_rows(study: Study, table: dict) -> dict[str, list[str]]:
    """The source's test metrics (replicate 0; a run's on the table's `test` if set) and the
    metrics of the job that made it (a run's training; a probe's own)."""
    job = study.jobs(table["source"])[0]
    return {
        "test": [paths.test_metrics_file(study, job, table["test"])],
        "made_by": [paths.job_file(study, job, "metrics.json")],
    }


TABLE_KINDS: dict[str, TableKind] = {
    "runs": TableKind((), _run_rows),
    "sweep": TableKind(("sweep",), _sweep_rows),
    "per_class": TableKind(("source",), _per_class_rows),
    "confusion": TableKind(("source",), _per_class_rows),
}


def sweep_column(mode: str, run: str) -> str:
    """The column of a sweep table for BN mode `mode` of run `run`."""
    return f"{mode}:{run}"
