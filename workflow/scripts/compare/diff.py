"""Match two result sets (`results/` directories) value by value and list what differs.

A *source* is one table (`<study>/tables/<table>.csv`, rows by its first column) or one
metrics file (`<study>/<kind>/<name...>/metrics.json`, a single row of dotted-path leaves).
Values are numbers (compared within a tolerance), text and booleans (compared exactly) and
arrays (compared whole, element by element). `<col>_sd`, `_n`, `_lo`, `_hi`, `_reported`,
`_diff` and `_verdict` are attributes of `<col>`, compared with it in one cell.

Every compared value has a category, so that a report can answer first: table cells and
headline metrics (accuracy, loss, AUC, ECE of a metrics file) are the summary; per-class and
other per-evaluation values are details; timing is apart.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ATTRIBUTES = ("sd", "n", "lo", "hi", "reported", "diff", "verdict")
# `<col>_diff` is `<col>` - `<col>_reported`; both of those are compared, so it is not.
DERIVED = {"diff"}
# Shown beside the value (`0.91 [0.89, 0.93]`), so not repeated in a difference's note.
SHOWN = {"lo", "hi"}
TIMING_SUFFIXES = ("_time_s", "_seconds", "images_per_s", "wall_time")
# Where and on what a result was made: differs between any two runs by design.
SKIPPED_KEYS = {"provenance"}
# ROC curves: their length follows the distinct scores, so they differ whenever any score
# does; each curve's `auc` (and `macro_auc`) is compared instead.
SKIPPED_ARRAYS = {"fpr", "tpr", "thresholds"}
# A table's paired comparisons (`<table>.compare.csv`, table_stats.comparisons) have one row per
# pair and score column, so `a` repeats: these three name a row, `a - b · column`.
PAIR_KEYS = ["a", "b", "column"]
# The metrics-file values a reader compares first, as evaluate (test_acc, test_top5, ece,
# roc.macro_auc, macro_f1), training (train/val acc and loss, best_val_acc, min_val_loss),
# probes (test_acc) and pretraining (contrastive_acc, probe_acc) name them.
HEADLINE_NAMES = {"accuracy", "loss", "ece", "auc"}
HEADLINE_ENDINGS = ("_acc", "_accuracy", "_loss", "_auc", "_f1")
# The recipe a run ran (metrics.json's `recipe`: learning rate, optimizer, augmentation ...) is
# its own category, so the setting that changed between two sets stands in the summary beside
# the numbers it changed. Timing, when not compared, is a fifth.
CATEGORIES = ("table", "headline", "recipe", "detail")

Key = tuple[str, str]  # (study, source), source e.g. "tables/t", "runs/a", "evals/a/test"
Rows = dict[str, dict[str, object]]  # row name ("" for metrics files) -> column -> value


class ResultError(ValueError):
    """A result file that cannot be read; the message names it."""


@dataclass
class ResultSet:
    root: Path
    sources: dict[Key, Rows]
    # Studies with results; kept apart from `sources` so that a table filter that leaves a
    # study's sources out on one side does not make the study itself one-sided.
    studies: set[str]


@dataclass
class Cell:
    value: object
    attrs: dict[str, object] = field(default_factory=dict)


@dataclass
class Row:
    """One matched value that differs (or a timing value): both sides, the why in `note`."""

    study: str
    source: str
    row: str
    column: str
    a: Cell
    b: Cell
    category: str  # one of CATEGORIES, or "timing"
    note: str = ""


@dataclass
class Missing:
    """A study, source, table row or column present in only one set ("A" or "B")."""

    side: str
    study: str
    source: str = ""
    row: str = ""
    column: str = ""

    @property
    def where(self) -> str:
        return "/".join(part for part in (self.study, self.source) if part)

    def describe(self) -> str:
        if self.row:
            return f"row `{self.row}` of `{self.where}`"
        if self.column:
            return f"column `{self.column}` of `{self.where}`"
        return f"study `{self.where}`" if not self.source else f"`{self.where}`"


@dataclass
class Comparison:
    differences: list[Row]
    timing: list[Row]  # timing values that differ, not counted (unless asked to)
    missing: list[Missing]
    # Values matched on both sides, by category ("timing": those not compared).
    compared: Counter[str] = field(default_factory=Counter)

    @property
    def exit_code(self) -> int:
        return 1 if self.differences or self.missing else 0

    def differing(self, category: str) -> list[Row]:
        """The values of one category that differ (timing's: those not compared)."""
        if category == "timing":
            return self.timing
        return [row for row in self.differences if row.category == category]


def is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def is_timing(column: str) -> bool:
    return column.rsplit(".", 1)[-1].endswith(TIMING_SUFFIXES)


def is_per_class(column: str) -> bool:
    return "per_class" in column.split(".")


def category(source: str, column: str) -> str:
    """Table cells, headline metrics and the recipe are the summary; the rest of a metrics file
    (per-class values, counts) are details."""
    if source.startswith("tables/"):
        return "table"
    parts = column.split(".")
    if parts[0] == "recipe":
        return "recipe"
    if is_per_class(column):
        return "detail"
    last = parts[-1]
    return "headline" if last in HEADLINE_NAMES or last.endswith(HEADLINE_ENDINGS) else "detail"


def parse_text(text: str) -> object:
    """A CSV cell: empty or "nan" -> NaN, a number -> float, anything else stays text."""
    stripped = text.strip()
    if stripped == "" or stripped.lower() == "nan":
        return math.nan
    try:
        return float(stripped)
    except ValueError:
        return text


def read_table(path: Path) -> Rows:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ResultError(f"{path}: not a readable CSV table ({error})") from error
    if frame.shape[1] == 0:
        raise ResultError(f"{path}: expected a row-name column first, found no columns")
    keys = [frame.columns[0]]
    if list(frame.columns[: len(PAIR_KEYS)]) == PAIR_KEYS:
        keys = PAIR_KEYS
        # The interval is the difference's: shown and compared with it, as `<col>_lo`/`_hi` are.
        frame = frame.rename(columns={"lo": "diff_lo", "hi": "diff_hi"})
    rows: Rows = {}
    for record in frame.to_dict("records"):
        name = row_label([str(record.pop(key)) for key in keys])
        while name in rows:  # a repeated row name is kept, not overwritten
            name += "'"
        rows[name] = {column: parse_text(text) for column, text in record.items()}
    return rows


def row_label(names: list[str]) -> str:
    """A table row's name, or a paired comparison's `a - b · column` (its rows' values are that
    difference's statistics: diff, p, n, verdict)."""
    return f"{names[0]} - {names[1]} · {names[2]}" if len(names) == len(PAIR_KEYS) else names[0]


def leaves(node: object, path: str = "", text: bool = False):
    """(dotted path, value) for every number, boolean, null and array under `node`; text is
    skipped (names, paths: configuration, not results), except in the recipe (`text`), where an
    optimizer's or augmentation's name is the setting that changed."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in SKIPPED_KEYS:
                inner = text or (not path and key == "recipe")
                yield from leaves(value, f"{path}.{key}" if path else str(key), inner)
    elif isinstance(node, str) and text:
        yield path, node
    elif isinstance(node, list):
        if path.rsplit(".", 1)[-1] not in SKIPPED_ARRAYS:
            yield path, node
    elif node is None:
        yield path, math.nan
    elif isinstance(node, bool):
        yield path, str(node)
    elif is_number(node):
        yield path, node


def read_metrics(path: Path) -> Rows:
    try:
        return {"": dict(leaves(json.loads(path.read_text())))}
    except (ValueError, UnicodeDecodeError) as error:
        raise ResultError(f"{path}: not readable JSON ({error})") from error


def read_result_set(root: Path) -> ResultSet:
    """Every table and metrics.json under `root`, by (study, source). Each directory holding a
    metrics.json is its own source, whatever its name (replicates included)."""
    sources: dict[Key, Rows] = {}
    for study_dir in sorted(path for path in root.iterdir() if path.is_dir()):
        study = study_dir.name
        for table in sorted((study_dir / "tables").glob("*.csv")):
            sources[(study, f"tables/{table.stem}")] = read_table(table)
        for metrics in sorted(study_dir.glob("*/**/metrics.json")):
            source = metrics.parent.relative_to(study_dir).as_posix()
            if not source.startswith("tables/"):
                sources[(study, source)] = read_metrics(metrics)
    return ResultSet(root, sources, {study for study, _ in sources})


def cells(values: dict[str, object]) -> dict[str, Cell]:
    """Group `<col>_<attribute>` columns into `<col>`'s cell; an empty attribute is absent."""
    grouped: dict[str, Cell] = {}
    attributes: list[tuple[str, str, object]] = []
    for column, value in values.items():
        base, _, suffix = column.rpartition("_")
        if suffix in ATTRIBUTES and base in values:
            attributes.append((base, suffix, value))
        else:
            grouped[column] = Cell(value)
    for base, suffix, value in attributes:
        if not (is_number(value) and math.isnan(value)):
            grouped[base].attrs[suffix] = value
    return grouped


def close(a: object, b: object, tol: float) -> bool:
    """Equal within `tol` (absolute) for numbers, NaN equal to NaN; exact for the rest;
    arrays element by element."""
    if is_number(a) and is_number(b):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(b - a) <= tol
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[key], b[key], tol) for key in a)
    return type(a) is type(b) and a == b


def array_note(a: object, b: object) -> str:
    """How two differing arrays differ: shapes, or the largest element difference."""
    try:
        x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return "arrays differ"
    if x.shape != y.shape:
        return f"shape {x.shape} -> {y.shape}"
    return f"max |B - A| {np.nanmax(np.abs(y - x)):.6g}" if x.size else "arrays differ"


def compare_cells(a: Cell, b: Cell, tol: float) -> tuple[bool, str]:
    """Whether two matched cells differ (value or any compared attribute), and a note (the
    interval is shown with the values, so its changes are not repeated there)."""
    differs = not close(a.value, b.value, tol)
    notes = [array_note(a.value, b.value)] if differs and isinstance(a.value, list) else []
    for name in ATTRIBUTES:
        if name in DERIVED or (name not in a.attrs and name not in b.attrs):
            continue
        if name not in a.attrs or name not in b.attrs:
            change = f"{name} only in {'B' if name in b.attrs else 'A'}"
        elif not close(a.attrs[name], b.attrs[name], tol):
            change = f"{name} {format_value(a.attrs[name])} -> {format_value(b.attrs[name])}"
        else:
            continue
        differs = True
        if name not in SHOWN:
            notes.append(change)
    return differs, "; ".join(notes)


def format_value(value: object) -> str:
    if isinstance(value, list):
        shape = []
        while isinstance(value, list):  # nested lists: the first element's shape
            shape.append(str(len(value)))
            value = value[0] if value else None
        return f"array[{'x'.join(shape)}]"
    if is_number(value):
        if math.isnan(value):
            return "NaN"
        if math.isfinite(value) and float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))  # counts and sizes in full, not as 1.1174e+07
        return f"{value:.6g}"
    return str(value)


def interval(cell: Cell) -> tuple[float, float] | None:
    lo, hi = cell.attrs.get("lo"), cell.attrs.get("hi")
    return (lo, hi) if is_number(lo) and is_number(hi) else None


def within(a: Cell, b: Cell) -> str:
    """Whether B's value lies in A's interval and A's in B's: yes, no, one way, or – (no
    interval on one side, or no number)."""
    ia, ib = interval(a), interval(b)
    if ia is None or ib is None or not (is_number(a.value) and is_number(b.value)):
        return "–"
    b_in_a = ia[0] <= b.value <= ia[1]
    a_in_b = ib[0] <= a.value <= ib[1]
    if b_in_a and a_in_b:
        return "yes"
    if b_in_a or a_in_b:
        return "only B in A" if b_in_a else "only A in B"
    return "no"


def difference(a: Cell, b: Cell) -> float | None:
    """B - A for two numbers, else None."""
    if not (is_number(a.value) and is_number(b.value)):
        return None
    return b.value - a.value


def columns(rows: dict[str, dict[str, Cell]]) -> dict[str, None]:
    """Every column of a source's rows, in file order (a dict as an ordered set)."""
    return {column: None for row in rows.values() for column in row}


def compare_sources(key: Key, a: Rows, b: Rows, tol: float, include_timing: bool, into: Comparison) -> None:
    """Match one source's rows and cells; record differences, timing and one-sided rows/columns."""
    study, source = key
    cells_a = {row: cells(values) for row, values in a.items()}
    cells_b = {row: cells(values) for row, values in b.items()}
    columns_a, columns_b = columns(cells_a), columns(cells_b)
    for side, (rows, other_rows), (mine, other) in (
        ("A", (cells_a, cells_b), (columns_a, columns_b)),
        ("B", (cells_b, cells_a), (columns_b, columns_a)),
    ):
        into.missing += [Missing(side, study, source, row=row) for row in rows if row not in other_rows]
        into.missing += [
            Missing(side, study, source, column=column) for column in mine if column not in other
        ]
    shared = [column for column in columns_a if column in columns_b]
    for row in (name for name in cells_a if name in cells_b):
        for column in shared:
            cell_a, cell_b = cells_a[row].get(column), cells_b[row].get(column)
            if cell_a is None or cell_b is None:  # rows of one CSV share their columns
                continue
            kind = "timing" if is_timing(column) and not include_timing else category(source, column)
            into.compared[kind] += 1
            differs, note = compare_cells(cell_a, cell_b, tol)
            if differs:
                found = Row(study, source, row, column, cell_a, cell_b, kind, note)
                (into.timing if kind == "timing" else into.differences).append(found)


def compare(a: ResultSet, b: ResultSet, tol: float = 0.0, include_timing: bool = False) -> Comparison:
    """Everything in A and B matched by (study, source, row, column)."""
    result = Comparison([], [], [])
    studies_a, studies_b = a.studies, b.studies
    result.missing += [Missing("A", study) for study in sorted(studies_a - studies_b)]
    result.missing += [Missing("B", study) for study in sorted(studies_b - studies_a)]
    for side, ours, theirs in (("A", a, b), ("B", b, a)):
        result.missing += [
            Missing(side, study, source)
            for study, source in sorted(ours.sources)
            if (study, source) not in theirs.sources and study in theirs.studies
        ]
    for key in sorted(a.sources.keys() & b.sources.keys()):
        compare_sources(key, a.sources[key], b.sources[key], tol, include_timing, result)
    return result
