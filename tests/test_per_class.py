"""Per-class tables (kind per_class): scikit-learn's classification_report values per class and
in its summary rows, the report's numbers matched by class name or index, Markdown in percent;
and the class_accuracy figure's selectable metric."""

from __future__ import annotations

import copy
import json

import numpy as np
import plot as plot_script
import pytest
import table as table_script
from sklearn.metrics import classification_report

from conftest import TINY_STUDY
from cvrepro.config import ConfigError, resolve_study
from cvrepro.evaluate.metrics import classification_metrics
from cvrepro.evaluate.per_class import per_class_values, reported_by_row
from cvrepro.report.table_markdown import shown_columns, to_markdown

# S3's fine-tuned network (seeds/002, Question 1 b II): rows = actual, columns = predicted.
STL10 = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
FINE_TUNED = [
    [737, 5, 5, 0, 0, 0, 0, 1, 37, 15],
    [2, 755, 0, 18, 3, 4, 2, 16, 0, 0],
    [4, 0, 750, 0, 0, 0, 1, 0, 2, 43],
    [1, 6, 0, 682, 32, 41, 3, 34, 1, 0],
    [0, 12, 0, 22, 735, 11, 17, 3, 0, 0],
    [1, 3, 0, 45, 16, 673, 33, 28, 1, 0],
    [1, 3, 0, 4, 33, 37, 710, 7, 1, 4],
    [0, 9, 0, 10, 13, 9, 3, 755, 1, 0],
    [9, 0, 0, 0, 0, 0, 0, 0, 769, 22],
    [5, 0, 17, 0, 0, 0, 0, 1, 19, 758],
]
# Its '3. Class-wise Accuracy' row.
REPORTED = [0.9697, 0.9520, 0.9715, 0.8732, 0.8834, 0.8683, 0.9232, 0.8934, 0.9253, 0.9002]


def labels_from_confusion(confusion: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    true, pred = [], []
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            true += [i] * count
            pred += [j] * count
    return np.array(true), np.array(pred)


def metrics_of(confusion: list[list[int]], classes: list[str]) -> dict:
    true, pred = labels_from_confusion(confusion)
    return classification_metrics(true, np.eye(len(classes))[pred], classes)


def test_the_reports_class_wise_accuracy_is_per_class_precision():
    rows = per_class_values(metrics_of(FINE_TUNED, STL10))
    # The report truncates to two decimals of a percent (bird 738/775 = 95.208% is '95.20%').
    truncated = [np.floor(rows[c]["precision"] * 1e4 + 1e-9) / 1e4 for c in STL10]
    np.testing.assert_allclose(truncated, REPORTED, atol=1e-9)
    assert rows["cat"]["precision"] == pytest.approx(682 / 781)
    assert rows["cat"]["recall"] == pytest.approx(682 / 800)  # what per-class accuracy would be


def test_rows_equal_scikit_learns_classification_report():
    true, pred = labels_from_confusion(FINE_TUNED)
    expected = classification_report(true, pred, target_names=STL10, output_dict=True)
    rows = per_class_values(metrics_of(FINE_TUNED, STL10))
    for name in [*STL10, "macro avg", "weighted avg"]:
        for ours, theirs in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
            assert rows[name][ours] == pytest.approx(expected[name][theirs]), (name, ours)
        assert rows[name]["support"] == expected[name]["support"]
    assert (
        rows["accuracy"]["f1"] == pytest.approx(expected["accuracy"]) and rows["accuracy"]["support"] == 8000
    )
    assert list(rows)[-3:] == ["accuracy", "macro avg", "weighted avg"]


def test_averages_skip_classes_without_test_images():
    """A zero-shot probe's `other` class has predictions but no test images."""
    confusion = [[8, 2, 0], [1, 5, 4], [0, 0, 0]]
    rows = per_class_values(metrics_of(confusion, ["a", "b", "other"]))
    assert rows["other"]["support"] == 0 and rows["other"]["precision"] == 0.0
    assert rows["macro avg"]["recall"] == pytest.approx((0.8 + 0.5) / 2)
    assert rows["macro avg"]["support"] == 20


def test_reported_rows_are_class_names_indices_or_summary_rows():
    rows = reported_by_row(
        {"cat": {"precision": 0.87}, "0": {"f1": 0.8}, 9: {"recall": 0.9}, "macro avg": {}}, STL10, "t"
    )
    assert set(rows) == {"cat", "airplane", "truck", "macro avg"}
    with pytest.raises(ValueError, match=r"t\.reported\.10: not a class name"):
        reported_by_row({"10": {"f1": 0.8}}, STL10, "t")
    with pytest.raises(ValueError, match="given twice"):
        reported_by_row({"3": {"f1": 0.8}, "cat": {"f1": 0.8}}, STL10, "t")


def write_metrics(tmp_path, confusion, classes) -> tuple:
    test = tmp_path / "test.json"
    test.write_text(json.dumps(metrics_of(confusion, classes)))
    made_by = tmp_path / "made_by.json"
    made_by.write_text(json.dumps({"provenance": {"git_commit": "abc", "device": "cpu", "config_hash": "h"}}))
    return test, made_by


def build_table(spec: dict, test, made_by, tmp_path):
    """The table script on one source's metrics: t.csv and t.md in tmp_path; the frame."""
    inputs = {"test": {spec["source"]: [test]}, "made_by": {spec["source"]: [made_by]}}
    out = (tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "compare.csv")
    return table_script.main(spec, inputs, *out, log=lambda *_: None)


def test_table_script_builds_a_per_class_table_with_the_reports_values(tmp_path):
    test, made_by = write_metrics(tmp_path, FINE_TUNED, STL10)
    spec = {
        "kind": "per_class",
        "source": "finetune",
        "caption": "Per class",
        "interval": "sd",
        "reported": {name: {"precision": value} for name, value in zip(STL10, REPORTED, strict=True)},
    }
    frame = build_table(spec, test, made_by, tmp_path)
    shown = shown_columns(frame)
    assert [c for c in shown if not c.endswith("_verdict")] == [
        "precision",
        "precision_reported",
        "precision_diff",
        "recall",
        "f1",
        "support",
    ]
    assert frame.index.name == "class" and len(frame) == 13
    assert frame["precision_diff"].iloc[:10].between(0, 1e-4).all()  # the report truncates
    markdown = (tmp_path / "t.md").read_text()
    # precision's interval is over the 781 images predicted as cat, recall's over its 800
    assert "| cat | 87.32% [84.81, 89.48%] | 87.32% | +0.00 pp | within | 85.25% [" in markdown
    assert markdown.count("| 800 |") == 10 and "| accuracy | – | – | – | – | – | 91.55% | 8000 |" in markdown
    assert "Made by commit abc on cpu" in markdown


@pytest.mark.parametrize("metric", ["recall", "precision", "f1"])
def test_class_accuracy_figure_draws_the_chosen_metric(tmp_path, metric, monkeypatch):
    from cvrepro.report.plot_axes import plt

    drawn = {}
    original = plt.Axes.bar

    def record(ax, x, height, *args, **kwargs):
        drawn.setdefault(kwargs.get("label"), list(height))
        return original(ax, x, height, *args, **kwargs)

    monkeypatch.setattr(plt.Axes, "bar", record)
    a, _ = write_metrics(tmp_path, FINE_TUNED, STL10)
    other = tmp_path / "zero_shot.json"
    confusion = [row + [0] for row in FINE_TUNED] + [[0] * 11]  # 10 x 11 with `other`, as zero-shot
    other.write_text(json.dumps(metrics_of(confusion, [*STL10, "other"])))
    spec = {
        "kind": "class_accuracy",
        "caption": "c",
        "metric": metric,
        "runs": ["zs", "ft"],
    }
    plot_script.main(spec, {"jobs": {"zs": [other], "ft": [a]}}, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 0
    expected = per_class_values(metrics_of(FINE_TUNED, STL10))
    assert drawn["ft"][:10] == pytest.approx([expected[c][metric] for c in STL10])
    assert np.isnan(drawn["ft"][10]) and len(drawn["zs"]) == 11  # no `other` bar for the fine-tuned network


def test_markdown_shows_precision_recall_f1_in_percent():
    import pandas as pd

    frame = pd.DataFrame({"precision": [0.8732], "support": [781]}, index=pd.Index(["cat"], name="class"))
    assert "| cat | 87.32% | 781 |" in to_markdown(frame)


def test_table_script_builds_a_confusion_table_cell_by_cell_beside_the_reports_counts(tmp_path):
    """The report's fine-tuned matrix as both ours and theirs, one cell planted 5 higher: rows and
    columns by index or name, each reported cell with its difference and verdict."""
    test, made_by = write_metrics(tmp_path, FINE_TUNED, STL10)
    reported = {str(i): {str(j): n for j, n in enumerate(row)} for i, row in enumerate(FINE_TUNED)}
    reported["cat"] = reported.pop("3")
    reported["cat"]["dog"] = reported["cat"].pop("5") + 5  # the report's 41, planted as 46
    spec = {
        "kind": "confusion",
        "source": "finetune",
        "caption": "Confusion",
        "interval": "sd",
        "reported": reported,
    }
    frame = build_table(spec, test, made_by, tmp_path)
    assert frame.index.name == "true -> predicted" and len(frame) == 100
    assert frame.loc["cat -> dog", "count"] == 41 and frame.loc["cat -> dog", "count_reported"] == 46
    assert frame.loc["cat -> dog", "count_diff"] == -5
    assert (frame.drop(index="cat -> dog")["count_diff"] == 0).all()
    assert frame.loc["airplane -> airplane", "count"] == FINE_TUNED[0][0]
    assert "| cat -> dog | 41 | 46 | -5 | ours lower by 5 |" in (tmp_path / "t.md").read_text()
    assert frame.loc["airplane -> airplane", "count_verdict"] == "equal"


def per_class_study(table: dict) -> dict:
    spec = copy.deepcopy(TINY_STUDY)
    spec["tables"] = {**spec["tables"], "pc": table}
    return spec


@pytest.mark.parametrize(
    "table, expected",
    [
        ({"kind": "per_class"}, "tables.pc.source: required for kind per_class"),
        ({"kind": "per_class", "source": "ssl"}, "tables.pc.source: no run or probe named 'ssl'"),
        ({"kind": "per_class", "source": "a", "runs": ["b"]}, "tables.pc.runs: not used by kind per_class"),
        (
            {"kind": "per_class", "source": "pix", "test": "test"},
            "tables.pc.test: a probe is scored on its own",
        ),
        (
            {"kind": "per_class", "source": "a", "reported": {"3": {"test_acc": 0.5}}},
            "tables.pc.reported.3.test_acc: not a column of a per_class table",
        ),
        (
            {"kind": "per_class", "source": "a", "reported": {"10": {"f1": 0.5}}},
            "tables.pc.reported.10: class index not below the 10 classes of 'test'",
        ),
        ({"source": "a", "runs": ["a"]}, "tables.pc.source: only used by kinds confusion and per_class"),
        (
            {"kind": "confusion", "source": "a", "reported": {"3": {"10": 5}}},
            "tables.pc.reported.3.10: class index not below the 10 classes of 'test'",
        ),
        (  # S4's OCR-decoded class 36 of ce_center: p <= 0.965 and r <= 0.985 give F1 <= 0.9749
            {
                "kind": "per_class",
                "source": "a",
                "reported": {"3": {"precision": 0.96, "recall": 0.98, "f1": 0.98}},
            },
            "tables.pc.reported.3: f1 0.98 cannot come from precision 0.96 and recall 0.98",
        ),
        (
            {
                "kind": "per_class",
                "source": "a",
                "reported": {"3": {"precision": 0.5, "recall": 0.9, "f1": 0.57}},
            },
            "tables.pc.reported.3: f1 0.57 cannot come from precision 0.5 and recall 0.9",
        ),
    ],
)
def test_per_class_table_errors(table, expected):
    with pytest.raises(ConfigError) as info:
        resolve_study("tiny", per_class_study(table), "studies/tiny.yaml")
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_a_reported_row_within_two_decimal_rounding_passes():
    # 0.84 / 0.87 / 0.85 (S4's triplet class 0): 2pr/(p+r) = 0.8547, inside 0.85's rounding.
    # 0.5 / 0.9 / 0.64: exactly 0.6429 rounds to 0.64. Summary rows are means and are not checked.
    reported = {
        "0": {"precision": 0.84, "recall": 0.87, "f1": 0.85},
        "1": {"precision": 0.5, "recall": 0.9, "f1": 0.64},
        "macro avg": {"precision": 0.9, "recall": 0.1, "f1": 0.9},
    }
    resolve_study(
        "tiny", per_class_study({"kind": "per_class", "source": "a", "reported": reported}), "s.yaml"
    )
