"""What every table kind declares (TableKind), how tables group their files into rows, and what
the builders share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from cvrepro.report.grouping import Manifest
from cvrepro.study import Study


class Built(NamedTuple):
    """A built table: the frame, the line that says who made it, and its paired comparisons."""

    frame: object  # pandas.DataFrame
    footer: str
    comparisons: object | None = None  # pandas.DataFrame


@dataclass(frozen=True)
class TableKind:
    needs: tuple[str, ...]  # keys that must be set (non-empty) for this kind
    inputs: Callable[[Study, dict], Manifest]  # the files the table reads, by role and row
    build: Callable[[dict, Manifest], Built]  # (spec, its inputs by name)
    rows_from: str = "sections"  # sections (runs, pretrain, probes), sweep, or source (one job's classes)
    reported_cells: str = "columns"  # `reported`: row -> {column: value}, or matrix (true -> predicted)


def _groups(study: Study, names: list[str]) -> list[list]:
    """[row, its jobs] for every row the names stand for (grid points; replicates)."""
    return [[row, study.replicas(row)] for name in names for row in study.rows(name)]


def table_groups(study: Study, table: dict) -> dict[str, list[list]] | list[list]:
    """A run table's rows by section (runs, pretrain, probes), or a sweep table's runs, each
    [row, its jobs]: what the table's files are, in order, and how they group into rows."""
    if table["sweep"] is not None:  # only sweep tables name one (a config check)
        return _groups(study, study.bn_sweeps[table["sweep"]]["runs"])
    return {section: _groups(study, table[section]) for section in ("runs", "pretrain", "probes")}


def sweep_column(mode: str, run: str) -> str:
    """The column of a sweep table for BN mode `mode` of run `run`."""
    return f"{mode}:{run}"


def with_reported(values_by_row: dict[str, dict], columns: list[str], reported: dict[str, dict]):
    """Rows of single values (no replicates), `columns` in order, the report's numbers beside."""
    from cvrepro.report.table_stats import summarize

    return summarize({row: [values] for row, values in values_by_row.items()}, columns, reported)
