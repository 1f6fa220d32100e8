"""What changed between two result sets (`make compare A=... B=...`), like `dvc metrics diff`.

Prints a Markdown report (differences, what only one set has, timing apart) and writes it to
<out>/compare.md, with its rows in <out>/compare.csv. Exit code: 0 when every compared value
is equal within --tol, 1 when anything differs or is in only one set, 2 for bad usage.
Run from the command line, not from Snakemake: pandas and json only, no torch.
"""

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

from cvrepro.report.result_diff import (
    Comparison,
    ResultError,
    ResultSet,
    Row,
    compare,
    difference,
    format_value,
    interval,
    read_result_set,
    within,
)

HEADER = ["study", "table/run", "row", "column", "A", "B", "B - A", "within", "note"]
CSV_COLUMNS = [
    "status", "study", "source", "row", "column", "a", "b", "b_minus_a", "within",
    "a_lo", "a_hi", "b_lo", "b_hi", "note",
]  # fmt: skip


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


def to_markdown(result: Comparison, a: Path, b: Path, tol: float, include_timing: bool) -> str:
    timing = "timing included" if include_timing else f"timing not compared: {result.timing_compared}"
    lines = [
        f"# Compare: A = `{a}`, B = `{b}`",
        "",
        f"Tolerance |B - A| <= {tol:g}; {result.compared} values compared ({timing}).",
        "",
    ]
    if result.exit_code == 0:
        lines += ["no differences", ""]
    if result.differences:
        lines += [f"## Differences ({len(result.differences)})", "", *markdown_rows(result.differences), ""]
    if result.missing:
        lines += [f"## Only in one set ({len(result.missing)})", ""]
        lines += [f"- only in {item.side}: {item.describe()}" for item in result.missing] + [""]
    if result.timing:
        lines += [f"## Not compared: timing ({len(result.timing)} of {result.timing_compared} differ)", ""]
        lines += [*markdown_rows(result.timing), ""]
    return "\n".join(lines)


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


def main(a: Path, b: Path, tol: float, out_dir: Path | None, include_timing: bool = False) -> int:
    if not tol >= 0:  # also rejects NaN
        print(f"compare_results: --tol must be a number >= 0, got {tol}", file=sys.stderr)
        return 2
    try:
        sets = [load(label, Path(root)) for label, root in (("A", a), ("B", b))]
    except ResultError as error:
        print(f"compare_results: {error}", file=sys.stderr)
        return 2
    problems = [found for found in sets if isinstance(found, str)]
    if problems:
        print(f"compare_results: {problems[0]}", file=sys.stderr)
        return 2
    result = compare(sets[0], sets[1], tol, include_timing)
    report = to_markdown(result, sets[0].root, sets[1].root, tol, include_timing)
    out_dir = Path(out_dir) if out_dir is not None else Path.cwd() / "compare"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "compare.md").write_text(report)
    to_frame(result).to_csv(out_dir / "compare.csv", index=False)
    print(report, end="")
    return result.exit_code


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a", type=Path, metavar="A", help="the first results directory")
    parser.add_argument("b", type=Path, metavar="B", help="the second results directory")
    parser.add_argument("--tol", type=float, default=0.0, help="largest |B - A| counted as equal (0: exact)")
    parser.add_argument("--out", type=Path, default=None, help="where compare.{md,csv} go (./compare)")
    parser.add_argument("--include-timing", action="store_true", help="compare timing values too")
    args = parser.parse_args()
    sys.exit(main(args.a, args.b, args.tol, args.out, args.include_timing))
