"""Table builders (reported vs ours, missing rows, sweep tables) and the report's assembly."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from cvrepro.report.caveats import automatic_caveats
from cvrepro.report.results_index import index_markdown
from cvrepro.report.stats import t_interval, wilson
from cvrepro.report.study_report import StudyText, reported_vs_ours, study_report
from cvrepro.report.table_markdown import provenance_line, to_markdown
from cvrepro.report.table_stats import comparisons
from cvrepro.report.tables.runs import pretrain_values, run_table, run_values
from cvrepro.report.tables.sweep import sweep_table

SPEC = {
    "runs": ["t1", "t2"],
    "pretrain": ["simclr"],
    "probes": ["svm"],
    "columns": ["train_acc", "test_acc", "contrastive_acc", "train_time_s"],
    "reported": {"t1": {"test_acc": 0.2446}, "svm": {"test_acc": 0.8365}},
}


def rows(t1: list[tuple[float, float]], t2=(), svm=None, simclr=None) -> dict[str, list[dict]]:
    """Row -> replicates' values as the table builder makes them from metrics.json files."""
    values = {
        "t1": [
            run_values(
                {"train_acc": a, "train_images": 200, "train_time_s": 12.0},
                {"test_acc": b, "test_images": 1000},
            )
            for a, b in t1
        ],
        "t2": [run_values({"train_acc": a}, {"test_acc": b, "test_images": 1000}) for a, b in t2] or [{}],
        "simclr": [pretrain_values(simclr or {})],
        "svm": [svm or {}],  # a probe's metrics.json as it is
    }
    return values


def test_run_table_puts_reported_difference_and_verdict_beside_ours():
    frame = run_table(
        SPEC,
        rows(
            [(0.9, 0.25)],
            [(0.95, 0.39)],
            {"train_acc": 1.0, "test_acc": 0.80, "test_images": 1000, "train_time_s": 0.5},
            {"contrastive_acc": 0.99, "train_time_s": 30.0},
        ),
        {},
    )
    assert list(frame.index) == ["t1", "t2", "simclr", "svm"]
    stats = ["_sd", "_n", "_lo", "_hi"]
    assert list(frame.columns) == [
        "train_acc", *[f"train_acc{s}" for s in stats],
        "test_acc", *[f"test_acc{s}" for s in stats], "test_acc_reported", "test_acc_diff", "test_acc_verdict",
        "contrastive_acc", *[f"contrastive_acc{s}" for s in stats],
        "train_time_s",
    ]  # fmt: skip
    assert frame.loc["t1", "test_acc_diff"] == pytest.approx(0.25 - 0.2446)
    # One replicate: a Wilson interval from the 1,000 test images; 24.46% lies inside it.
    assert (frame.loc["t1", "test_acc_lo"], frame.loc["t1", "test_acc_hi"]) == pytest.approx(
        wilson(0.25, 1000)
    )
    assert frame.loc["t1", "test_acc_verdict"] == "within"
    assert frame.loc["svm", "test_acc_verdict"] == f"ours lower by {100 * (0.8365 - 0.80):.2f} pp"
    assert pd.isna(frame.loc["t2", "test_acc_reported"]) and frame.loc["svm", "train_time_s"] == 0.5
    assert frame.loc["simclr", "contrastive_acc"] == 0.99 and pd.isna(
        frame.loc["simclr", "contrastive_acc_lo"]
    )


def test_replicates_give_mean_sd_n_and_a_t_interval():
    frame = run_table(SPEC, rows([(0.9, 0.20), (0.9, 0.26), (0.9, 0.23)]), {})
    expected = t_interval([0.20, 0.26, 0.23])
    assert frame.loc["t1", "test_acc"] == pytest.approx(0.23) and frame.loc["t1", "test_acc_n"] == 3
    assert frame.loc["t1", "test_acc_sd"] == pytest.approx(0.03)
    assert (frame.loc["t1", "test_acc_lo"], frame.loc["t1", "test_acc_hi"]) == pytest.approx(
        (expected.lo, expected.hi)
    )
    assert frame.loc["t1", "test_acc_verdict"] == "within"
    assert "| t1 | 90.0 ± 0.0% (n=3) | 23.0 ± 3.0% (n=3) | 24.46% | +1.46" not in to_markdown(frame)
    assert "23.0 ± 3.0% (n=3)" in to_markdown(frame)


def test_the_interval_option_shows_the_95_percent_t_interval_of_replicates():
    """`interval: ci95` puts the CSV's _lo/_hi in the Markdown cell (what a paper reports);
    `both` shows sd and interval; the default `sd` is the cell as before."""
    frame = run_table(SPEC, rows([(0.9, 0.20), (0.9, 0.26), (0.9, 0.23)]), {})
    lo, hi = (100 * frame.loc["t1", f"test_acc_{end}"] for end in ("lo", "hi"))
    interval = f"[{lo:.1f}, {hi:.1f}]"
    assert f"| 23.0% {interval} (n=3) |" in to_markdown(frame, interval="ci95")
    assert f"| 23.0 ± 3.0% {interval} (n=3) |" in to_markdown(frame, interval="both")
    assert interval not in to_markdown(frame) and "23.0 ± 3.0% (n=3)" in to_markdown(frame, interval="sd")
    with pytest.raises(ValueError, match="table interval 'ci' is not known; choose from"):
        to_markdown(frame, interval="ci")


def test_missing_runs_give_empty_cells_not_errors():
    frame = run_table(SPEC, {"t1": [{}], "t2": [{}], "simclr": [{}], "svm": [{}]}, {})
    assert frame.loc["t1", "test_acc_reported"] == 0.2446
    assert pd.isna(frame.loc["t1", "test_acc"]) and pd.isna(frame.loc["t1", "test_acc_diff"])
    assert "| t1 | – | – | 24.46% | – | not computed |" in to_markdown(frame, "caption")


def test_markdown_formats_accuracies_differences_and_provenance():
    frame = run_table(SPEC, rows([(0.5, 0.2)]), {})
    markdown = to_markdown(
        frame, "T1", provenance_line([{"provenance": {"git_commit": "abc", "device": "cpu"}}])
    )
    assert markdown.startswith("**T1**")
    assert (
        "| t1 | 50.00% [43.14, 56.86%] | 20.00% [17.64, 22.59%] | 24.46% | -4.46 pp | ours lower by 4.46 pp |"
        in markdown
    )
    assert markdown.rstrip().endswith("Made by commit abc on cpu; config hashes: ?.")


def test_provenance_names_each_config_hash_once_in_row_order():
    # Eight probes of one recipe over three seeds share three hashes (studies/ssl_methods.yaml).
    rows = [{"provenance": {"git_commit": "abc", "device": "cpu", "config_hash": h}} for h in "bcab" * 6]
    assert provenance_line(rows) == "Made by commit abc on cpu; config hashes: b, c, a."


def test_grid_points_get_their_values_as_columns():
    frame = run_table({**SPEC, "runs": ["g.lr_0.1", "g.lr_0.01"], "pretrain": [], "probes": []},
                      {"g.lr_0.1": [{"test_acc": 0.5}], "g.lr_0.01": [{"test_acc": 0.6}]},
                      {"g.lr_0.1": {"optimizer.lr": 0.1}, "g.lr_0.01": {"optimizer.lr": 0.01}})  # fmt: skip
    assert list(frame.columns[:2]) == ["lr", "train_acc"] and list(frame["lr"]) == ["0.1", "0.01"]


def test_paired_comparison_over_seed_indices():
    both = rows([(0.9, 0.20), (0.9, 0.26), (0.9, 0.23)], [(0.9, 0.30), (0.9, 0.37), (0.9, 0.32)])
    found = comparisons(both, [["t2", "t1"]], ["train_acc", "test_acc", "train_time_s"])
    test = found[found["column"] == "test_acc"].iloc[0]
    expected = t_interval([0.10, 0.11, 0.09])
    assert (test["diff"], test["lo"], test["hi"]) == pytest.approx((0.10, expected.lo, expected.hi))
    assert test["verdict"] == "real" and test["p"] == pytest.approx(
        stats.ttest_rel([0.30, 0.37, 0.32], [0.20, 0.26, 0.23]).pvalue
    )
    assert found[found["column"] == "train_acc"].iloc[0]["verdict"] == "inconclusive at n = 3"  # 0 difference
    assert "train_time_s" not in set(found["column"])  # times are not scores


def sweep_rows(run_offset: float) -> pd.DataFrame:
    rows = []
    for mode, base in (("eval", 0.1), ("train", 0.3)):
        for batch_size in (4, 32):
            for severity, corruption in ((0, "clean"), (1, "fog"), (5, "fog")):
                accuracy = base + run_offset + batch_size / 1000 + (0.5 if severity == 0 else severity / 100)
                for order in ("shuffled", "class_sorted"):
                    rows.append(
                        {
                            "corruption": corruption,
                            "severity": severity,
                            "images": 1000,
                            "mode": mode,
                            "batch_size": batch_size,
                            "order": order,
                            "accuracy": accuracy if order == "shuffled" else 0.0,
                        }
                    )
    return pd.DataFrame(rows)


def test_sweep_table_means_corrupted_conditions_per_batch_size_mode_and_run():
    spec = {"modes": ["eval", "train"], "order": "shuffled", "reported": {4: {"train:t1": 0.0669}}}
    frame = sweep_table(spec, {"t1": [sweep_rows(0.0)], "t2": [sweep_rows(0.2), sweep_rows(0.21)]})
    assert list(frame.index) == ["4", "32"] and frame.index.name == "batch_size"
    shown = [c for c in frame.columns if not c.endswith(("_sd", "_n", "_lo", "_hi"))]
    assert shown == [
        "eval:t1",
        "eval:t2",
        "train:t1",
        "train:t1_reported",
        "train:t1_diff",
        "train:t1_verdict",
        "train:t2",
    ]
    # severities 1 and 5 only (clean excluded), shuffled order only: 0.1 + 0.004 + 0.03
    assert frame.loc["4", "eval:t1"] == pytest.approx(0.134)
    assert (
        frame.loc["32", "train:t2"] == pytest.approx(0.3 + 0.205 + 0.032 + 0.03)
        and frame.loc["32", "train:t2_n"] == 2
    )
    assert frame.loc["4", "train:t1_diff"] == pytest.approx(0.3 + 0.004 + 0.03 - 0.0669)
    assert "| 4 | 13.40% [11.43, 15.65%] |" in to_markdown(frame)


def test_report_assembles_tables_comparison_figures_jobs_and_caveats():
    frame = run_table(SPEC, rows([(0.5, 0.2)]), {})
    comparison = reported_vs_ours({"t": frame})
    assert comparison[["row", "column"]].values.tolist() == [["t1", "test_acc"], ["svm", "test_acc"]]
    assert comparison.loc[0, "diff"] == pytest.approx(0.2 - 0.2446) and pd.isna(comparison.loc[1, "ours"])
    jobs = {
        "t1": (
            "run",
            {"train_time_s": 60.0, "train_images": 500, "epochs": 2, "provenance": {"device": "H100"}},
        ),
        "simclr": ("pretraining", {"train_time_s": None}),
    }
    fidelity = [
        {"what": "optimizer", "report": "Adam 1e-3", "ours": "adam lr 0.001", "status": "same", "why": ""}
    ]
    none = comparisons({}, [], [])
    study = StudyText("s1", "What S1 does.", {"curves": "Loss"}, ["c1"], fidelity)
    text = study_report(study, {"t": (to_markdown(frame), frame, none)}, jobs, "abc")
    assert text.index("## Tables") < text.index("## Reported vs ours") < text.index("## Figures")
    assert "**0 of 2 reported numbers lie within our 95% interval.**" in text
    assert (
        "| t | t1 | test_acc | 24.46% | 20.00% | [17.64%, 22.59%] | -4.46 pp | ours lower by 4.46 pp |"
        in text
    )
    assert "| optimizer | Adam 1e-3 | adam lr 0.001 | same |  |" in text and "1 items as the report" in text
    assert "![Loss](figures/curves.png)" in text
    assert "| t1 | run | H100 | ? | 2 | 500 | 60.0 | 17 |" in text and "| simclr | pretraining |" in text
    assert "Total training time: 60 s" in text and "- c1" in text and text.rstrip().endswith("commit abc.")
    own = study_report(
        StudyText("mine", "", {}, [], []), {"t": (to_markdown(frame), frame.iloc[:0], none)}, {}, "a"
    )
    assert "source report" not in own and "Reported vs ours" not in own and "fidelity" not in own
    index = index_markdown(
        {
            "s1": {
                "description": "x " * 200,
                "runs": 2,
                "tables": 1,
                "figures": 1,
                "train_minutes": 1.0,
                "best": "",
            }
        },
        False,
    )
    assert "| [s1](s1/REPORT.md) |" in index and "..." in index and index.startswith("# cvrepro results")
    rehearsal = index_markdown({}, True)
    assert rehearsal.startswith("# cvrepro rehearsal") and "mean nothing" in rehearsal


def test_the_index_shows_every_studys_numbers_from_its_own_files(tmp_path):
    """Study A ran, then study B alone: results/REPORT.md lists both, A's row as full as B's
    (trainings, tables, figures, training time and best test accuracy read from A's files)."""
    import report

    def write_study(name: str, accuracies: list[float], seconds: float) -> list[Path]:
        root = tmp_path / name
        (root / "tables").mkdir(parents=True)
        (root / "figures").mkdir()
        (root / "figures" / "curves.png").write_bytes(b"png")
        (root / "REPORT.md").write_text(f"# Study `{name}`\n\nWhat {name.upper()} reproduces.\n\n## Tables\n")
        frame = pd.DataFrame(
            {"test_acc": accuracies, "test_acc_sd": 0.01, "test_acc_n": 3}, index=["r1", "r2"]
        )
        frame.index.name = "run"
        frame.to_csv(root / "tables" / "t.csv")
        (root / "tables" / "t.md").write_text("| |\n")
        (root / "tables" / "t.compare.csv").write_text("a,b,column\n")
        files = []
        for run in ("r1", "r2"):
            (root / "runs" / run).mkdir(parents=True)
            (root / "runs" / run / "metrics.json").write_text(json.dumps({"train_time_s": seconds}))
            files.append(root / "runs" / run / "metrics.json")
        return files

    write_study("a", [0.5, 0.75], 30.0)
    b_files = write_study("b", [0.9, 0.2], 60.0)
    text = report.index({"b": {"description": "What B reproduces."}}, {"b": b_files}, tmp_path / "REPORT.md")
    assert "| [b](b/REPORT.md) | What B reproduces. | 2 | 1 | 1 | 2.0 | 90.0 ± 1.0% (n=3): r1 in t |" in text
    assert (
        "| [a](a/REPORT.md) | What A reproduces. (an earlier run; not in this one's selection) | 2 | 1 | 1 | "
        "1.0 | 75.0 ± 1.0% (n=3): r2 in t |" in text
    )
    assert text.index("[b]") < text.index("[a]") and (tmp_path / "REPORT.md").read_text() == text


def test_automatic_caveats_name_imagenet_overlap_and_tiny_train_mode_batches():
    spec = {
        "subsets": {"a": {"dataset": "stl10"}, "b": {"dataset": "cifar10"}},
        "runs": {"r": {"init": "imagenet"}},
        "probes": {},
        "bn_sweeps": {"bn": {"batch_sizes": [4, 32], "modes": ["eval", "train"]}},
    }
    caveats = automatic_caveats(spec)
    assert len(caveats) == 2
    assert "STL-10's images come from ImageNet" in caveats[0] and "optimistic" in caveats[0]
    assert "test batch size 4" in caveats[1]
    spec["subsets"] = {"b": {"dataset": "cifar10"}}
    spec["bn_sweeps"]["bn"]["modes"] = ["eval"]
    assert automatic_caveats(spec) == []
