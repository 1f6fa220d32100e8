"""Every kind of table a study can ask for, declared once: the keys it needs, the files it reads
(by role), and the function that builds it (`build_<kind>` in cvrepro.tables).

The config checks, the `table` rule's inputs and workflow/scripts/table.py all read this table;
a test holds the schema's enum equal to it. Light: importable while Snakemake parses the workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cvrepro import paths
from cvrepro.study import Study


@dataclass(frozen=True)
class TableKind:
    needs: tuple[str, ...]  # keys that must be set (non-empty) for this kind
    inputs: Callable[[Study, dict], dict[str, list[str]]]  # role -> files, in the order of the rows


def _run_rows(study: Study, table: dict) -> dict[str, list[str]]:
    """Runs (training metrics + test evaluation), then pretrainings, then probes."""
    return {
        "train": [paths.job_metrics_file(study, run) for run in table["runs"]],
        "test": [paths.test_metrics_file(study, run, table["test"]) for run in table["runs"]],
        "pretrain": [paths.job_metrics_file(study, name) for name in table["pretrain"]],
        "probes": [paths.job_metrics_file(study, probe) for probe in table["probes"]],
    }


def _sweep_rows(study: Study, table: dict) -> dict[str, list[str]]:
    """The BN sweep's CSV of each of its runs, and those runs' training metrics (provenance)."""
    runs = study.bn_sweeps[table["sweep"]]["runs"]
    return {
        "sweeps": [paths.sweep_file(study, table["sweep"], run) for run in runs],
        "train": [paths.job_metrics_file(study, run) for run in runs],
    }


def _per_class_rows(study: Study, table: dict) -> dict[str, list[str]]:
    """The source's test metrics (a run's on the table's `test` if set) and the metrics of the
    job that made it (a run's training; a probe's own)."""
    return {
        "test": [paths.test_metrics_file(study, table["source"], table["test"])],
        "made_by": [paths.job_metrics_file(study, table["source"])],
    }


TABLE_KINDS: dict[str, TableKind] = {
    "runs": TableKind((), _run_rows),
    "sweep": TableKind(("sweep",), _sweep_rows),
    "per_class": TableKind(("source",), _per_class_rows),
}


def table_rows(study: Study, table: dict) -> list[str]:
    """The names of a table's rows' sources: runs, pretrainings, probes (or the sweep's runs)."""
    if table["kind"] == "sweep":
        return study.bn_sweeps[table["sweep"]]["runs"]
    return table["runs"] + table["pretrain"] + table["probes"]


def sweep_column(mode: str, run: str) -> str:
    """The column of a sweep table for BN mode `mode` of run `run`."""
    return f"{mode}:{run}"
