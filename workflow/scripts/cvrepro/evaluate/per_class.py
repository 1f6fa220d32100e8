"""Rows of a per-class table: precision, recall, F1 and support of each class of one run or
probe (from its test metrics, cvrepro.evaluate.metrics.classification_metrics), then the summary rows of
scikit-learn's classification_report (accuracy, macro avg, weighted avg), and the source
report's values matched to those rows by class name or class index."""

from __future__ import annotations

COLUMNS = ("precision", "recall", "f1", "support")
SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg")


def class_rows(metrics: dict) -> dict[str, dict]:
    """class -> {precision, recall, f1, support, predicted}, in the metrics' class order;
    `predicted` (images predicted as the class: precision's denominator, as support is
    recall's) gives the tables their intervals."""
    predicted = [sum(column) for column in zip(*metrics["confusion"], strict=True)]
    return {
        name: {**{c: metrics["per_class"][name][c] for c in COLUMNS}, "predicted": predicted[i]}
        for i, name in enumerate(metrics["classes"])
    }


def summary_rows(metrics: dict) -> dict[str, dict]:
    """classification_report's summary rows. Averages run over the classes present in the test
    set (support > 0): a zero-shot probe's `other` class has no test images. As the report
    prints it, accuracy sits in the f1 column with the total support."""
    rows = [row for row in class_rows(metrics).values() if row["support"] > 0]
    total = sum(row["support"] for row in rows)
    macro = {c: sum(row[c] for row in rows) / len(rows) for c in COLUMNS[:3]}
    weighted = {c: sum(row[c] * row["support"] for row in rows) / total for c in COLUMNS[:3]}
    return {
        "accuracy": {"precision": None, "recall": None, "f1": metrics["test_acc"], "support": total},
        "macro avg": {**macro, "support": total},
        "weighted avg": {**weighted, "support": total},
    }


def per_class_values(metrics: dict) -> dict[str, dict]:
    """Every row of the table: the classes, then the summary rows."""
    return {**class_rows(metrics), **summary_rows(metrics)}


def reported_by_row(reported: dict, classes: list[str], where: str) -> dict[str, dict]:
    """The study's `reported`, keyed by the table's row names: a key may be a class name, a
    class index ("3", as reports that number their classes print it) or a summary row. An
    unknown key is a one-line ValueError naming `where` (the table)."""
    rows: dict[str, dict] = {}
    for key, cells in reported.items():
        key = str(key)
        if key in classes or key in SUMMARY_ROWS:
            row = key
        elif key.isdigit() and int(key) < len(classes):
            row = classes[int(key)]
        else:
            raise ValueError(
                f"{where}.reported.{key}: not a class name, a class index below {len(classes)} "
                f"or one of {', '.join(SUMMARY_ROWS)} (classes: {', '.join(classes)})"
            )
        if row in rows:
            raise ValueError(f"{where}.reported.{key}: class {row!r} is given twice")
        rows[row] = cells
    return rows


def class_name(key, classes: list[str], where: str) -> str:
    """A class given by name or by index ("3", as reports number them); a one-line ValueError
    naming `where` otherwise."""
    key = str(key)
    if key in classes:
        return key
    if key.isdigit() and int(key) < len(classes):
        return classes[int(key)]
    raise ValueError(
        f"{where}.{key}: not a class name or a class index below {len(classes)} (classes: {', '.join(classes)})"
    )


def reported_problem(reported: dict, classes: int, test: str, matrix: bool) -> tuple[str, str] | None:
    """(key inside `reported`, one line) of the first problem with a per_class (matrix False) or
    confusion (True) table's reported numbers, checked at load: a class index below the `classes`
    of the test subset `test` (a matrix's predicted columns too), and each class row's F1
    reachable from its precision and recall; or None."""
    for row, values in reported.items():
        indices = [(f"{row}", row), *((f"{row}.{column}", column) for column in values if matrix)]
        for where, index in indices:
            if str(index).isdigit() and int(index) >= classes:
                return where, f"class index not below the {classes} classes of {test!r}"
        if not matrix and str(row) not in SUMMARY_ROWS:  # macro and weighted F1: means, not of P and R
            if problem := _f1_problem(values):
                return f"{row}", problem
    return None


def _f1_problem(values: dict) -> str | None:
    """Why a class row's reported F1 cannot come from its reported precision and recall, each
    anywhere within its printed rounding (values read off a report, e.g. by OCR, can be misread)."""
    if not {"precision", "recall", "f1"} <= set(values):
        return None
    p, r, f1 = (float(values[c]) for c in ("precision", "recall", "f1"))
    decimals = max(len(repr(v).partition(".")[2]) for v in (p, r, f1))
    half = 0.5 * 10.0**-decimals
    eps = 1e-9  # float representation of the printed values

    def f(a: float, b: float) -> float:
        a, b = min(max(a, 0.0), 1.0), min(max(b, 0.0), 1.0)
        return 2 * a * b / (a + b) if a + b > 0 else 0.0

    low, high = f(p - half, r - half), f(p + half, r + half)  # F1 grows with both
    if low <= f1 + half + eps and f1 - half - eps <= high:
        return None
    return (
        f"f1 {f1} cannot come from precision {p} and recall {r} (within their rounding to {decimals} "
        f"decimals they give F1 {low:.4f} to {high:.4f}); check the reported row"
    )
