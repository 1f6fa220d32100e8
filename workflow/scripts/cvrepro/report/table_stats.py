"""The statistics of a table: each row's replicates summarised per column (mean, sd, n and a 95%
interval for scores; the mean for times and counts), the published numbers beside ours with a
verdict, and paired comparisons between rows.

CSV columns for a score `<col>`: `<col>` (the mean), `<col>_sd`, `<col>_n`, `<col>_lo`, `<col>_hi`
(a 95% t-interval over replicates; for one replicate of an accuracy, a Wilson interval from the
number of images it was measured on), then, where the study gives the report's number,
`<col>_reported`, `<col>_diff` (ours - theirs) and `<col>_verdict`.
"""

from __future__ import annotations

import pandas as pd

from cvrepro.report.stats import Estimate, estimate, paired_difference, verdict

ACCURACIES = {"train_acc", "val_acc", "test_acc", "test_top5", "best_val_acc", "contrastive_acc"}
ACCURACIES |= {"precision", "recall", "f1"}  # per-class tables: fractions too
SCORES = ACCURACIES | {"min_val_loss", "silhouette", "dunn"}
# The value that holds how many images an accuracy was measured on (its Wilson interval at n = 1).
IMAGE_COUNTS = {
    "train_acc": "train_images",
    "val_acc": "val_images",
    "best_val_acc": "val_images",
    "test_acc": "test_images",
    "test_top5": "test_images",
    "precision": "predicted",  # per-class tables: images predicted as the class
    "recall": "support",  # images of the class
}
STAT_SUFFIXES = ("_sd", "_n", "_lo", "_hi")
# Exact counts (a confusion table's cells): compared with the report's count as they are.
EXACT_COUNTS = ("count",)


def is_score(column: str) -> bool:
    """Scores get intervals; sweep columns (`<mode>:<run>`) are accuracies too."""
    return column in SCORES or ":" in column


def is_accuracy(column: str) -> bool:
    return column in ACCURACIES or ":" in column


def _images(replicates: list[dict], column: str) -> int | None:
    key = IMAGE_COUNTS.get(column, "images" if ":" in column else None)
    counts = [r.get(key) for r in replicates] if key else []
    return int(counts[0]) if counts and counts[0] else None


def cell(replicates: list[dict], column: str) -> Estimate | None:
    """One cell of a row: its replicates' values of `column` summarised (None when absent)."""
    values = [float(r[column]) for r in replicates if r.get(column) is not None]
    if not values:
        return None
    if not is_score(column):
        return Estimate(sum(values) / len(values), None, len(values), None, None)
    return estimate(values, _images(replicates, column) if is_accuracy(column) else None)


def summarize(rows: dict[str, list[dict]], columns: list[str], reported: dict[str, dict]) -> pd.DataFrame:
    """row -> its replicates' values, as one table row each (see the module docstring)."""
    reported_columns = {column for values in reported.values() for column in values}
    frame_rows = []
    for name, replicates in rows.items():
        row: dict = {"run": name}
        for column in columns:
            est = cell(replicates, column)
            row[column] = est.mean if est else None
            if is_score(column):
                row.update({f"{column}{s}": getattr(est, s[1:]) if est else None for s in STAT_SUFFIXES})
            if column in reported_columns:
                row.update(_reported_cells(column, est, reported.get(name, {}).get(column)))
        frame_rows.append(row)
    return pd.DataFrame(frame_rows).set_index("run")


def _reported_cells(column: str, ours: Estimate | None, theirs: float | None) -> dict:
    """`<col>_reported`, `<col>_diff` and `<col>_verdict` of one cell."""
    if theirs is None:
        return {f"{column}_reported": None, f"{column}_diff": None, f"{column}_verdict": None}
    scale, unit = (100.0, "pp") if is_accuracy(column) else (1.0, "")
    if column in EXACT_COUNTS and ours:
        difference = int(round(ours.mean - theirs))
        said = (
            "equal"
            if difference == 0
            else f"ours {'higher' if difference > 0 else 'lower'} by {abs(difference)}"
        )
        return {f"{column}_reported": theirs, f"{column}_diff": difference, f"{column}_verdict": said}
    return {
        f"{column}_reported": theirs,
        f"{column}_diff": ours.mean - theirs if ours else None,
        f"{column}_verdict": verdict(theirs, ours, scale, unit).rstrip() if ours else "not computed",
    }


def comparisons(rows: dict[str, list[dict]], pairs: list[list[str]], columns: list[str]) -> pd.DataFrame:
    """a - b for each compared pair and score column, over replicates paired by seed index."""
    found = []
    for a, b in pairs:
        for column in [c for c in columns if is_score(c)]:
            va = [r.get(column) for r in rows[a]]
            vb = [r.get(column) for r in rows[b]]
            if None in va or None in vb:
                continue
            diff = paired_difference([float(v) for v in va], [float(v) for v in vb])
            called = "real" if diff.real else f"inconclusive at n = {diff.n}"
            found.append(
                {"a": a, "b": b, "column": column, "diff": diff.mean, "lo": diff.lo, "hi": diff.hi}
                | {"p": diff.p, "n": diff.n, "verdict": called}
            )
    return pd.DataFrame(found, columns=["a", "b", "column", "diff", "lo", "hi", "p", "n", "verdict"])
