"""Config checks of what a study outputs: figures and tables, against the kinds' declarations
(cvrepro.report.figures, cvrepro.report.tables), and the reports' published numbers."""

from __future__ import annotations

from cvrepro.config.checks_data import check_subset_ref, subsets_disjoint
from cvrepro.config.checks_training import check_augment, init_sources
from cvrepro.config.schema import ConfigError, check_named
from cvrepro.data.datasets.registry import num_classes
from cvrepro.evaluate.per_class import reported_problem
from cvrepro.report.figures import FIGURE_KINDS
from cvrepro.report.tables import TABLE_KINDS, sweep_column
from cvrepro.study import Study
from cvrepro.study.names import PIXELS

SECTION_ROWS = {"runs": "run", "pretrain": "pretraining", "probes": "probe"}


def check_figures(study: Study) -> None:
    for name, figure in study.figures.items():
        key = f"{study.source}: figures.{name}"
        kind = FIGURE_KINDS[figure["kind"]]
        allowed = {n: None for section in kind.rows for n in study.names(section)}
        for run in figure["runs"]:
            check_named(f"{key}.runs", "run", run, allowed)
        check_subset_ref(study, f"figures.{name}.subset", figure["subset"])
        if figure["sweep"] is not None:
            check_named(f"{key}.sweep", "BN sweep", figure["sweep"], study.bn_sweeps)
        if figure["shift_set"] is not None:
            check_named(f"{key}.shift_set", "shift set", figure["shift_set"], study.shift_sets)
        if figure["features"] is not None and figure["features"] not in {
            PIXELS,
            *study.runs,
            *study.pretrain,
            *init_sources(study),
        }:
            raise ConfigError(
                f"{key}.features: expected 'pixels', a run or pretraining, or <pretraining>@init, "
                f"got {figure['features']!r}"
            )
        check_augment(f"{key}.augment", figure["augment"])
        if kind.check and (problem := kind.check(study, figure)):
            raise ConfigError(f"{key}.runs: {problem}")


def check_tables(study: Study) -> None:
    for name, table in study.tables.items():
        kind = TABLE_KINDS[table["kind"]]
        if kind.rows_from == "sweep":
            _check_sweep_table(study, name, table)
            continue
        if kind.rows_from == "source":
            _check_per_class_table(study, name, table, kind.reported_cells)
            continue
        for section, row_kind in SECTION_ROWS.items():
            defined = study.names(section)
            for row in table[section]:
                check_named(f"{study.source}: tables.{name}.{section}", row_kind, row, defined)
        if table["test"] is not None:
            _check_table_test(study, name, table)
        rows = [row for section in SECTION_ROWS for written in table[section] for row in study.rows(written)]
        _check_reported(study, name, table, rows, table["columns"])
        _check_compare(study, name, table, rows)


def _check_per_class_table(study: Study, name: str, table: dict, reported_cells: str) -> None:
    """One run or probe (one row of it: not a grid); its test subset's classes are the rows."""
    key, source = f"{study.source}: tables.{name}", table["source"]
    runs, probes = study.written("runs"), study.written("probes")
    check_named(f"{key}.source", "run or probe", source, [*runs, *probes])
    if len(study.rows(source)) != 1:
        raise ConfigError(
            f"{key}.source: {source!r} is a grid of {len(study.rows(source))} runs; name one point"
        )
    if table["test"] is not None:
        if source not in runs:
            raise ConfigError(f"{key}.test: a probe is scored on its own test subset only")
        _check_table_test(study, name, {**table, "runs": [source]})
    job = study.jobs(source)[0]
    test = table["test"] or (study.runs[job]["test"] if source in runs else study.probes[job]["test"])
    classes = num_classes(study.subsets[test])
    matrix = reported_cells == "matrix"
    if matrix and source in probes and study.probes[job]["kind"] == "zero_shot":
        classes += 1  # a zero-shot probe predicts one class more than the test set has: `other`
    if problem := reported_problem(table["reported"], classes, test, matrix):
        raise ConfigError(f"{key}.reported.{problem[0]}: {problem[1]}")


def _check_compare(study: Study, name: str, table: dict, rows: list[str]) -> None:
    """Each compared pair names two rows of the table with the same number of replicates."""
    for a, b in table["compare"]:
        for row in (a, b):
            if row not in rows:
                raise ConfigError(
                    f"{study.source}: tables.{name}.compare: {row!r} is not a row of this table ({', '.join(rows)})"
                )
        if len(study.replicas(a)) != len(study.replicas(b)):
            raise ConfigError(
                f"{study.source}: tables.{name}.compare: {a!r} has {len(study.replicas(a))} replicates and "
                f"{b!r} {len(study.replicas(b))}; a paired comparison needs the same `repeats`"
            )


def _check_table_test(study: Study, name: str, table: dict) -> None:
    key = f"{study.source}: tables.{name}.test"
    check_subset_ref(study, f"tables.{name}.test", table["test"])
    for run in [job for written in table["runs"] for job in study.jobs(written)]:
        train = study.runs[run]["train"]
        if not subsets_disjoint(study.subsets, train, table["test"]):
            raise ConfigError(f"{key}: subset {table['test']!r} may overlap the training subset of {run!r}")
        if num_classes(study.subsets[table["test"]]) != num_classes(study.subsets[train]):
            raise ConfigError(
                f"{key}: subset {table['test']!r} has other classes than run {run!r} was trained on"
            )


def _check_sweep_table(study: Study, name: str, table: dict) -> None:
    key = f"{study.source}: tables.{name}"
    check_named(f"{key}.sweep", "BN sweep", table["sweep"], study.bn_sweeps)
    sweep = study.bn_sweeps[table["sweep"]]
    for mode in table["modes"]:
        if mode not in sweep["modes"]:
            raise ConfigError(f"{key}.modes: the sweep {table['sweep']!r} does not run mode {mode!r}")
    if table["order"] not in sweep["orders"]:
        raise ConfigError(f"{key}.order: the sweep {table['sweep']!r} does not run order {table['order']!r}")
    rows = [str(size) for size in sweep["batch_sizes"]]
    columns = [sweep_column(mode, run) for mode in table["modes"] for run in sweep["runs"]]
    _check_reported(study, name, table, rows, columns)


def _check_reported(study: Study, name: str, table: dict, rows: list[str], columns: list[str]) -> None:
    for row, values in table["reported"].items():
        if str(row) not in rows:
            raise ConfigError(
                f"{study.source}: tables.{name}.reported.{row}: not a row of this table ({', '.join(rows)})"
            )
        for column in values:
            if column not in columns:
                raise ConfigError(
                    f"{study.source}: tables.{name}.reported.{row}.{column}: not a column of this table "
                    f"({', '.join(columns)})"
                )
