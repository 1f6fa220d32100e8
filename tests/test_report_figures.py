"""Figures added for the reports' own: S1's shifted images (shift_samples) and S5's per-run
gradient-flow panels; drawn from files laid out as the rules write them."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import TINY_STUDY
from cvrepro.config import ConfigError, resolve_study
from cvrepro.report.figures import FIGURE_KINDS, grad_flow
from cvrepro.report.figures.shift_samples import shift_columns
from cvrepro.report.plot_axes import save_figure
from cvrepro.study import Study


def shift_dir(root, n: int = 10):
    """A shift set as scripts/shift.py writes it: clean.npz, <condition>.npz, info.json."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(n) % 3
    np.savez(root / "clean.npz", images=images, labels=labels)
    conditions = ["contrast-1", "gaussian_noise-5"]
    for k, condition in enumerate(conditions):
        np.savez(root / f"{condition}.npz", images=(images // (k + 2)).astype(np.uint8), labels=labels)
    (root / "info.json").write_text(
        json.dumps({"conditions": conditions, "classes": ["a", "b", "c"], "n": n})
    )
    return images, labels


def test_shift_samples_pairs_the_same_images_clean_and_corrupted(tmp_path):
    images, labels = shift_dir(tmp_path)
    columns, names = shift_columns(tmp_path, 4, seed=3)
    assert list(columns) == ["clean", "contrast-1", "gaussian_noise-5"]
    pick = np.sort(np.random.default_rng(3).permutation(10)[:4])
    assert np.array_equal(columns["clean"], images[pick])
    assert np.array_equal(columns["gaussian_noise-5"], images[pick] // 3)
    assert names == [["a", "b", "c"][label] for label in labels[pick]]
    out = tmp_path / "figure.png"
    spec = {"kind": "shift_samples", "shift_set": "c", "count": 4, "seed": 3, "caption": "Figure 1 (b)"}
    FIGURE_KINDS["shift_samples"].draw(spec, {"shift_set": {"c": [tmp_path]}}, out)
    width, height = Image.open(out).size
    assert (width, height) == (3 * 108, 528)  # three 0.9-inch columns of four rows at 120 dpi


def test_shift_samples_reads_the_shift_sets_directory_and_is_checked():
    study: Study = resolve_study("tiny", copy.deepcopy(TINY_STUDY), "x")
    figure = {"shift_set": "c", "runs": []}
    assert FIGURE_KINDS["shift_samples"].inputs(study, figure) == {
        "shift_set": {"c": ["results/tiny/shifted/c"]}
    }
    for changes, message in (
        ({"kind": "shift_samples", "count": 3}, "figures.s.shift_set: required for kind shift_samples"),
        (
            {"kind": "shift_samples", "shift_set": "zzz"},
            "figures.s.shift_set: no shift set named 'zzz'; defined: c",
        ),
        ({"kind": "shift_samples", "shift_set": "c", "runs": ["a"]}, "figures.s.runs: no run named 'a'"),
    ):
        spec = copy.deepcopy(TINY_STUDY)
        spec["figures"]["s"] = changes
        with pytest.raises(ConfigError, match=message):
            resolve_study("tiny", spec, "studies/tiny.yaml")


def test_gradient_flow_draws_one_panel_per_run_with_mean_and_max(tmp_path):
    def flow(scale: float) -> pd.DataFrame:
        layers = ["conv1.weight", "bn1.weight", "fc.weight"]
        return pd.DataFrame(
            [
                {
                    "epoch": e,
                    "layer": layer,
                    "mean_abs_grad": scale * (i + 1),
                    "max_abs_grad": 10 * scale * (i + 1),
                }
                for e in (1, 2)
                for i, layer in enumerate(layers)
            ]
        )

    one, three = tmp_path / "one.png", tmp_path / "three.png"
    save_figure(grad_flow.figure({"a": flow(1e-3)}, "log"), one, "")
    save_figure(grad_flow.figure({"a": flow(1e-3), "b": flow(1e-2), "c": pd.DataFrame()}, "log"), three, "")
    assert Image.open(three).size[1] > 2.5 * Image.open(one).size[1]  # a panel per run


def test_gradient_flow_overlays_every_step_when_rows_are_per_step(tmp_path):
    """grad_flow_per: step draws what overlaying one bar per step at alpha 0.1 draws: at a
    height that k steps' bars reach, opacity 1 - 0.9^k, from the log axis' floor up."""
    import matplotlib.pyplot as plt

    rows = [
        {
            "epoch": 1,
            "step": step,
            "layer": layer,
            "mean_abs_grad": step * 1e-4 * (i + 1),
            "max_abs_grad": step * 1e-3,
        }
        for step in (2, 1, 3)
        for i, layer in enumerate(["conv1.weight", "fc.weight"])
    ]
    frame = pd.DataFrame(rows)
    fig, ax = plt.subplots()
    grad_flow.step_bars(ax, frame, "mean_abs_grad", "b", floor=1e-6)
    (bars,) = ax.collections
    bands = [
        (box.vertices[:4, 0].mean(), box.vertices[:, 1].min(), box.vertices[:, 1].max())
        for box in bars.get_paths()
    ]
    alphas = bars.get_facecolors()[:, 3]
    # conv1: steps reach 1e-4, 2e-4, 3e-4; fc twice as high; 3 bands each
    expected = [
        (0, 2e-4, 3e-4),
        (0, 1e-4, 2e-4),
        (0, 1e-6, 1e-4),
        (1, 4e-4, 6e-4),
        (1, 2e-4, 4e-4),
        (1, 1e-6, 2e-4),
    ]
    assert np.asarray(bands) == pytest.approx(np.asarray(expected))
    assert alphas == pytest.approx([0.1, 0.19, 0.271] * 2)
    plt.close(fig)
    out = tmp_path / "steps.png"
    save_figure(grad_flow.figure({"a": frame}, "linear"), out, "")
    assert Image.open(out).size[0] > 0


@pytest.mark.parametrize("kind", ["confusion", "roc", "class_accuracy", "grid_scores"])
def test_evaluation_figures_draw_what_an_evaluation_writes(tmp_path, kind):
    """The figure kinds that read test metrics, drawn from metrics.json built as evaluate.py
    builds it: a name changed on one side only (a vocabulary drift) fails here."""
    import plot as plot_script

    from cvrepro.evaluate.metrics import classification_metrics, expected_calibration_error, one_vs_rest_roc

    rng = np.random.default_rng(0)
    classes = ["a", "b", "c"]
    runs = ["lr.lr_0.1", "lr.lr_0.01"]
    for run in runs:
        y = np.arange(60) % 3
        probs = rng.dirichlet(np.ones(3), 60) + np.eye(3)[y]
        probs /= probs.sum(1, keepdims=True)
        metrics = classification_metrics(y, probs, classes)
        metrics |= {"ece": expected_calibration_error(y, probs), "roc": one_vs_rest_roc(y, probs, classes)}
        (tmp_path / f"{run}.json").write_text(json.dumps(metrics))
        (tmp_path / f"{run}.train.json").write_text(json.dumps({"train_acc": 0.9, "val_acc": 0.8}))
    test = {"jobs": {run: [str(tmp_path / f"{run}.json")] for run in runs}}
    spec = {"kind": kind, "caption": "c", "runs": ["lr"], "metric": "recall"}
    if kind == "grid_scores":
        spec["grid"] = {"lr.lr_0.1": {"optimizer.lr": 0.1}, "lr.lr_0.01": {"optimizer.lr": 0.01}}
        test = {"train": {run: [str(tmp_path / f"{run}.train.json")] for run in runs}, "test": test["jobs"]}
    plot_script.main(spec, test, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 5_000
