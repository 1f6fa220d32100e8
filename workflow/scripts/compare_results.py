"""What changed between two result sets (`make compare A=... B=...`), like `dvc metrics diff`.

Prints a Markdown report that answers first: the verdict and counts, then the table cells and
headline metrics (accuracy, loss, AUC, ECE) that differ and what only one set has; per-class
and per-evaluation details and timing follow with --detail (one line counts them otherwise).
<out>/compare.md holds the whole report, <out>/compare.csv every row. Exit code: 0 when every
compared value is equal within --tol, 1 when anything differs or is in only one set, 2 for bad
usage. Run from the command line, not from Snakemake: pandas and json only, no torch.
"""

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from compare.diff import (
    CATEGORIES,
    Comparison,
    Missing,
    ResultError,
    ResultSet,
    Row,
    compare,
    difference,
    format_value,
    interval,
    is_per_class,
    read_result_set,
    within,
)
from compare.selection import Selection, names, select, unknown

HEADER = ["study", "table/run", "row", "column", "A", "B", "B - A", "within", "note"]
CSV_COLUMNS = [
    "status", "study", "source", "row", "column", "a", "b", "b_minus_a", "within",
    "a_lo", "a_hi", "b_lo", "b_hi", "note",
]  # fmt: skip
LABELS = {
    "table": "table cells",
    "headline": "headline metrics (accuracy, loss, AUC, ECE)",
    "recipe": "settings (the recipe each run ran)",
    "detail": "details (per class, per evaluation)",
    "timing": "timing (not compared)",
}
SECTIONS = {"table": "Table cells that differ", "headline": "Headline metrics that differ"}
# A column that a new version adds to every run's metrics file is one line, with this many of
# the sources named (compare.csv lists them all).
NAMED_SOURCES = 2


def shown(cell) -> str:
    """A side's value, with its interval when it has one."""
    bounds = interval(cell)
    text = format_value(cell.value)
    return f"{text} [{format_value(bounds[0])}, {format_value(bounds[1])}]" if bounds else text


def markdown_rows(rows: list[Row]) -> list[str]:
    lines = ["| " + " | ".join(HEADER) + " |", "|---|---|---|---|---:|---:|---:|---|---|"]
    for row in rows:
        delta = difference(row.a, row.b)
        if delta is None:
            delta_text = "changed"
        elif math.isnan(delta):
            delta_text = "–"
        else:
            delta_text = f"{delta:+.3g}" if not float(delta).is_integer() else f"{int(delta):+d}"
        cells = [row.study, row.source, row.row or "–", row.column, shown(row.a), shown(row.b)]
        cells += [delta_text, within(row.a, row.b), row.note]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return lines


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def counts_table(result: Comparison, include_timing: bool) -> list[str]:
    """Compared and differing values by category, and the items in one set only."""
    kinds = [*CATEGORIES] if include_timing else [*CATEGORIES, "timing"]
    lines = ["| values | compared | differ |", "|---|---:|---:|"]
    for kind in kinds:
        differing = result.differing(kind)
        per_class = sum(is_per_class(row.column) for row in differing) if kind == "detail" else 0
        extra = f" ({per_class} per class)" if per_class else ""
        lines.append(f"| {LABELS[kind]} | {result.compared[kind]} | {len(differing)}{extra} |")
    return lines + [f"| in one set only | – | {len(result.missing)} |", ""]


def missing_lines(missing: list[Missing]) -> list[str]:
    """One line per item, or per row or column name that many sources lack alike."""
    groups: dict[tuple[str, str, str], list[Missing]] = {}
    for item in missing:
        kind = "column" if item.column else "row" if item.row else ""
        groups.setdefault((item.side, kind, item.column or item.row or item.where), []).append(item)
    lines = []
    for (side, kind, name), items in groups.items():
        if len(items) == 1:
            lines.append(f"- only in {side}: {items[0].describe()}")
            continue
        named = ", ".join(f"`{item.where}`" for item in items[:NAMED_SOURCES])
        more = f" and {len(items) - NAMED_SOURCES} more" if len(items) > NAMED_SOURCES else ""
        lines.append(f"- only in {side}: {kind} `{name}` of {len(items)} sources: {named}{more}")
    return lines


def setting_lines(rows: list[Row]) -> list[str]:
    """The recipe keys that differ, one line per key and change, naming the runs it applies to:
    the cause of the numbers above, first thing a reader looks for."""
    changes: dict[tuple[str, str, str, str], list[str]] = {}
    for row in rows:
        key = (
            row.study,
            row.column.removeprefix("recipe."),
            format_value(row.a.value),
            format_value(row.b.value),
        )
        changes.setdefault(key, []).append(row.source)
    lines = []
    for (study, column, a, b), sources in changes.items():
        named = ", ".join(f"`{source}`" for source in sources[:NAMED_SOURCES])
        more = f" and {len(sources) - NAMED_SOURCES} more" if len(sources) > NAMED_SOURCES else ""
        lines.append(f"- {study}: `{column}` {a} -> {b} in {plural(len(sources), 'run')}: {named}{more}")
    return lines


def verdict(result: Comparison, tol: float) -> str:
    if result.exit_code == 0:
        compared = sum(result.compared[kind] for kind in CATEGORIES)
        return f"**Same** within |B - A| <= {tol:g}: no differences in {compared} values compared."
    parts = []
    if result.differences:
        parts.append(f"{plural(len(result.differences), 'value')} beyond |B - A| <= {tol:g}")
    if result.missing:
        parts.append(f"{plural(len(result.missing), 'item')} in one set only")
    return f"**Differs**: {'; '.join(parts)}."


def summary_lines(result: Comparison, a: Path, b: Path, tol: float, include_timing: bool) -> list[str]:
    """The verdict, the counts, then the table cells and headline metrics that differ and
    what only one set has."""
    lines = [f"# Compare: A = `{a}`, B = `{b}`", "", verdict(result, tol), ""]
    lines += counts_table(result, include_timing)
    if rows := result.differing("recipe"):
        lines += [f"## Settings that differ ({len(rows)} values)", "", *setting_lines(rows), ""]
    for kind, title in SECTIONS.items():
        if rows := result.differing(kind):
            lines += [f"## {title} ({len(rows)})", "", *markdown_rows(rows), ""]
    if result.missing:
        lines += [f"## Only in one set ({len(result.missing)})", "", *missing_lines(result.missing), ""]
    return lines


def detail_lines(result: Comparison) -> list[str]:
    lines = []
    if rows := result.differing("detail"):
        lines += [f"## Details that differ ({len(rows)}): per class and per evaluation", ""]
        lines += [*markdown_rows(rows), ""]
    if result.timing:
        lines += [f"## Not compared: timing ({len(result.timing)} of {result.compared['timing']} differ)", ""]
        lines += [*markdown_rows(result.timing), ""]
    return lines


def hint_lines(result: Comparison) -> list[str]:
    """What the console leaves out without --detail, in one line."""
    hidden = [
        plural(len(rows), f"{kind} difference")
        for kind in ("detail", "timing")
        if (rows := result.differing(kind))
    ]
    if not hidden:
        return []
    return [
        f"Not listed: {' and '.join(hidden)}; --detail to list them (make: ARGS=--detail; all in compare.md).",
        "",
    ]


def csv_value(value: object) -> object:
    return format_value(value) if isinstance(value, list) else value


def to_frame(result: Comparison) -> pd.DataFrame:
    """One line per difference, timing difference and one-sided item (`status` says which)."""
    records = []
    for status, rows in (("differs", result.differences), ("timing", result.timing)):
        for row in rows:
            a_lo, a_hi = interval(row.a) or (None, None)
            b_lo, b_hi = interval(row.b) or (None, None)
            records.append(
                [status, row.study, row.source, row.row, row.column, csv_value(row.a.value)]
                + [csv_value(row.b.value), difference(row.a, row.b), within(row.a, row.b).strip("–")]
                + [a_lo, a_hi, b_lo, b_hi, row.note]
            )
    for item in result.missing:
        records.append([f"only_in_{item.side}", item.study, item.source, item.row, item.column] + [None] * 9)
    return pd.DataFrame(records, columns=CSV_COLUMNS)


def load(label: str, root: Path) -> ResultSet | str:
    """The result set at `root`, or the one-line reason it is not one."""
    if not root.is_dir():
        return f"{label} is not a directory: {root}"
    found = read_result_set(root)
    if not found.sources:
        return f"{label} holds no results (<study>/tables/*.csv, <study>/<kind>/.../metrics.json): {root}"
    return found


def selected_sets(a: Path, b: Path, selection: Selection) -> list[ResultSet] | str:
    """A and B narrowed to the selection, or the one-line reason they cannot be compared."""
    try:
        sets = [load(label, Path(root)) for label, root in (("A", a), ("B", b))]
    except ResultError as error:
        return str(error)
    problems = [found for found in sets if isinstance(found, str)]
    if problems:
        return problems[0]
    return unknown(selection, sets) or [select(found, selection) for found in sets]


def main(
    a: Path,
    b: Path,
    tol: float,
    out_dir: Path | None,
    include_timing: bool = False,
    detail: bool = False,
    studies: Sequence[str] = (),
    tables: Sequence[str] = (),
) -> int:
    if not tol >= 0:  # also rejects NaN
        print(f"compare_results: --tol must be a number >= 0, got {tol}", file=sys.stderr)
        return 2
    sets = selected_sets(a, b, Selection(names(studies), names(tables)))
    if isinstance(sets, str):
        print(f"compare_results: {sets}", file=sys.stderr)
        return 2
    result = compare(sets[0], sets[1], tol, include_timing)
    summary = summary_lines(result, sets[0].root, sets[1].root, tol, include_timing)
    details = detail_lines(result)
    out_dir = Path(out_dir) if out_dir is not None else Path.cwd() / "compare"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "compare.md").write_text("\n".join(summary + details))
    to_frame(result).to_csv(out_dir / "compare.csv", index=False)
    print("\n".join(summary + (details if detail else hint_lines(result))), end="")
    return result.exit_code


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a", type=Path, metavar="A", help="the first results directory")
    parser.add_argument("b", type=Path, metavar="B", help="the second results directory")
    parser.add_argument("--tol", type=float, default=0.0, help="largest |B - A| counted as equal (0: exact)")
    parser.add_argument("--out", type=Path, default=None, help="where compare.{md,csv} go (./compare)")
    parser.add_argument("--include-timing", action="store_true", help="compare timing values too")
    parser.add_argument("--detail", action="store_true", help="also list per-class and per-evaluation values")
    lists = "; repeatable, or a,b or [a, b]"
    parser.add_argument("--study", action="append", default=[], help="only these studies" + lists)
    parser.add_argument(
        "--table", action="append", default=[], help="only these tables, no metrics files" + lists
    )
    args = parser.parse_args()
    options = {"include_timing": args.include_timing, "detail": args.detail}
    sys.exit(main(args.a, args.b, args.tol, args.out, **options, studies=args.study, tables=args.table))
