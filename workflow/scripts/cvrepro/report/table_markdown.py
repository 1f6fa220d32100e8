"""Tables as Markdown: cells with their uncertainty (mean +- sd (n), or a 95% interval), the
report's numbers with a verdict, paired comparisons, and the line that says who made the rows."""

from __future__ import annotations

import math

import pandas as pd

from cvrepro.report.table_stats import STAT_SUFFIXES, is_accuracy, is_score

COUNTS = {
    "epochs",
    "train_images",
    "trained_params",
    "total_params",
    "iterations",
    "support",
    "best_epoch",
    "count",
}


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_value(column: str, value) -> str:
    """One number: accuracies in percent (differences in points), others to 1 or 3 decimals."""
    if _missing(value):
        return "–"
    if isinstance(value, str):
        return value
    base = column.removesuffix("_reported").removesuffix("_diff")
    if is_accuracy(base):
        sign = "+" if column.endswith("_diff") and value > 0 else ""
        return f"{sign}{100 * value:.2f}" + (" pp" if column.endswith("_diff") else "%")
    if isinstance(value, float) and base in COUNTS and value.is_integer():
        return str(int(value))  # a count averaged over replicates that agree
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 0.1 or value == 0 else f"{value:.3f}"
    return str(value)


# How a mean over replicates shows its uncertainty (a table's `interval` key).
INTERVALS = ("sd", "ci95", "both")


def format_cell(column: str, row: pd.Series, interval: str | None = None) -> str:
    """A score with its uncertainty. Over replicates, by `interval`: `48.5 ± 3.9% (n=3)` (sd),
    `48.5% [38.8, 58.2] (n=3)` (ci95: the 95% t-interval of the mean, the CSV's _lo/_hi) or
    `48.5 ± 3.9% [38.8, 58.2] (n=3)` (both). One accuracy: `49.3% [48.3, 50.3]` (its Wilson
    interval). Anything else: the value alone. `interval` None: a caller outside a table (the
    results index), shown as sd."""
    interval = interval or INTERVALS[0]
    if interval not in INTERVALS:
        raise ValueError(f"table interval {interval!r} is not known; choose from {list(INTERVALS)}")
    value = row[column]
    if _missing(value) or not is_score(column):
        return format_value(column, value)
    n, sd, lo, hi = (row.get(f"{column}{s}") for s in ("_n", "_sd", "_lo", "_hi"))
    scale, unit = (100, "%") if is_accuracy(column) else (1, "")
    bracket = "" if _missing(lo) else f" [{lo * scale:.1f}, {hi * scale:.1f}]"
    if not _missing(n) and n > 1:
        spread = f" ± {sd * scale:.1f}" if interval != "ci95" or not bracket else ""
        shown = bracket if interval != "sd" else ""
        return f"{value * scale:.1f}{spread}{unit}{shown} (n={int(n)})"
    if not _missing(lo):
        return f"{format_value(column, value)} [{format_value(column, lo).rstrip('%')}, {format_value(column, hi)}]"
    return format_value(column, value)


def shown_columns(frame: pd.DataFrame) -> list[str]:
    """The columns a reader sees: statistics columns are folded into their score's cell."""
    return [
        c for c in frame.columns if not (c.endswith(STAT_SUFFIXES) and c.rsplit("_", 1)[0] in frame.columns)
    ]


def to_markdown(frame: pd.DataFrame, caption: str = "", footer: str = "", interval: str | None = None) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency), accuracies in percent; `interval`:
    how means over replicates show their uncertainty (format_cell)."""
    columns = shown_columns(frame)
    lines = [f"**{caption}**", ""] if caption else []
    lines.append("| " + " | ".join([frame.index.name or "", *columns]) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * len(columns)) + "|")
    for index, row in frame.astype(object).iterrows():  # object: ints stay ints, not upcast floats
        lines.append(
            "| " + " | ".join([str(index), *(format_cell(col, row, interval) for col in columns)]) + " |"
        )
    if footer:
        lines += ["", footer]
    return "\n".join(lines) + "\n"


def comparisons_markdown(comparisons: pd.DataFrame) -> str:
    """Each compared pair: the paired difference, its interval and p-value, real or inconclusive."""
    if comparisons.empty:
        return ""
    lines = [
        "Paired differences (replicates with the same seed index; 95% t-interval):",
        "",
        "| a - b | column | difference | 95% interval | p | n | verdict |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for item in comparisons.itertuples():
        interval = (
            "–"
            if _missing(item.lo)
            else f"[{format_value(item.column + '_diff', item.lo)}, {format_value(item.column + '_diff', item.hi)}]"
        )
        p = "–" if _missing(item.p) else f"{item.p:.3g}"
        lines.append(
            f"| {item.a} - {item.b} | {item.column} | {format_value(item.column + '_diff', item.diff)} | "
            f"{interval} | {p} | {item.n} | {item.verdict} |"
        )
    return "\n".join(lines) + "\n"


def provenance_line(metrics: list[dict], evaluations: list[dict] = ()) -> str:
    """Which commits, config hashes and devices made the rows of a table, and a warning when the
    rows (or their `evaluations`, checked for code only) were made by different code."""
    seen = [m.get("provenance", {}) for m in metrics if m]
    commits = sorted({p.get("git_commit") or "unknown" for p in seen})
    devices = sorted({p.get("device") or "unknown" for p in seen})
    # Each distinct hash once, in row order: replicates and probes of one recipe share theirs.
    hashes = ", ".join(dict.fromkeys(p.get("config_hash", "?") for p in seen))
    warning = code_warning([*metrics, *evaluations])
    line = f"Made by commit {', '.join(commits)} on {'; '.join(devices)}; config hashes: {hashes}."
    return f"{line} {warning}" if warning else line


def code_warning(metrics: list[dict]) -> str:
    """'' when every row's code fingerprint (provenance `code`, and `eval_code` of evaluations)
    agrees on each module and pinned package; else a warning naming what differs. Commits cannot
    tell: a job reruns only when its own code changed, so rows of different commits may share code."""
    provenances = [m.get("provenance", {}) for m in metrics if m]
    prints = [p[key] for p in provenances for key in ("code", "eval_code") if isinstance(p.get(key), dict)]
    if not prints:  # results made before fingerprints were recorded: nothing to compare
        return ""
    seen: dict[tuple[str, str], set[str]] = {}
    for fingerprint in prints:
        for kind in ("modules", "packages"):
            for name, value in fingerprint.get(kind, {}).items():
                seen.setdefault((kind, name), set()).add(str(value))
    differ = [
        name if kind == "modules" else f"{name} {' vs '.join(sorted(values))}"
        for (kind, name), values in sorted(seen.items())
        if len(values) > 1
    ]
    unrecorded = sum(1 for p in provenances if "code" not in p)
    parts = [f"rows made by different code ({', '.join(differ)} differ)"] if differ else []
    if unrecorded:
        parts.append(f"{unrecorded} of {len(provenances)} results record no code fingerprint")
    return f"**Warning:** {'; '.join(parts)}." if parts else ""
