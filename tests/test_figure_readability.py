"""Figures read at a glance (issue 31): a loss spike cannot flatten the loss axis, bands stay
within what their quantity can take, axis limits come from the data, legends cover no data,
confusion matrices carry a colour bar and their cell values, and every title says whether it
shows the mean over replicates or which replicate. Each figure is read back from matplotlib."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from cvrepro.report.figures import (
    bn_sweep,
    class_accuracy,
    confusion,
    grad_flow,
    grid_scores,
    probe_curves,
    roc,
    step_loss,
    training_curves,
    tsne,
)
from cvrepro.report.figures.kind import first
from cvrepro.report.plot_axes import layout, plt, save_figure
from cvrepro.report.table_markdown import format_cell
from cvrepro.report.table_stats import summarize


def history(train_loss, val_loss, train_acc, val_acc) -> pd.DataFrame:
    epochs = range(1, len(train_loss) + 1)
    return pd.DataFrame(
        {
            "epoch": epochs,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "train_acc": train_acc,
            "val_acc": val_acc,
        }
    )


def spiky_histories() -> dict[str, list[pd.DataFrame]]:
    """Replicate 2 of `a` has an epoch-1 validation loss near 50 (the default study's scratch_1k
    did); `a`'s train accuracy is near 1 in two replicates, so its mean + sd passes 1."""
    a = [
        history([2.0, 1.0, 0.6, 0.5], [2.1, 1.2, 0.8, 0.7], [0.5, 0.9, 0.99, 1.0], [0.4, 0.6, 0.7, 0.72]),
        history([2.1, 1.1, 0.7, 0.5], [2.3, 1.1, 0.9, 0.7], [0.5, 0.7, 0.90, 1.0], [0.4, 0.6, 0.7, 0.74]),
        history([2.2, 1.2, 0.7, 0.6], [49.0, 1.5, 0.9, 0.8], [0.4, 0.9, 0.99, 0.8], [0.3, 0.5, 0.7, 0.70]),
    ]
    b = [history([1.5, 0.8, 0.5, 0.4], [1.6, 0.9, 0.6, 0.5], [0.6, 0.8, 0.85, 0.9], [0.5, 0.7, 0.8, 0.8])] * 3
    return {"a": a, "b": b}


def bands(ax) -> list[np.ndarray]:
    """The y values of every fill_between band of the axes."""
    return [
        path.vertices[:, 1] for c in ax.collections if isinstance(c, PolyCollection) for path in c.get_paths()
    ]


def data_boxes(fig) -> list:
    """The display boxes of every data area (axes, colour bars included)."""
    return [ax.get_window_extent() for ax in fig.axes]


def assert_legends_cover_no_data(fig) -> None:
    fig.canvas.draw()
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + fig.legends
    assert legends, "the figure has no legend"
    for legend in legends:
        box = legend.get_window_extent()
        for area in data_boxes(fig):
            assert not box.overlaps(area), f"legend {box} lies over the data area {area}"


def test_a_loss_spike_does_not_flatten_the_loss_axis_and_bands_stay_possible():
    fig = layout(training_curves.figure(spiky_histories()), "c")
    ax_loss, ax_acc = fig.axes[:2]
    assert ax_loss.get_yscale() == "log"
    low, high = ax_loss.get_ylim()
    assert low > 0.2 and high < 200  # the axis fits the data: 0.4 ... 49, not 1e-12 ... 1e3
    assert all((band > 0).all() for band in bands(ax_loss))  # a loss band is never below zero
    assert bands(ax_acc) and all(((band >= 0) & (band <= 1)).all() for band in bands(ax_acc))
    assert "geometric mean" in ax_loss.get_title()
    assert_legends_cover_no_data(fig)
    plt.close(fig)


def test_a_loss_of_zero_keeps_a_linear_axis_with_its_band_at_or_above_zero():
    histories = {
        "a": [
            history([2.0, 0.0], [2.0, 0.1], [0.5, 0.6], [0.5, 0.6]),
            history([0.5, 0.0], [0.5, 0.1], [0.5, 0.6], [0.5, 0.6]),
            history([0.1, 0.0], [0.1, 0.1], [0.5, 0.6], [0.5, 0.6]),
        ]
    }
    fig = training_curves.figure(histories)
    ax_loss = fig.axes[0]
    assert ax_loss.get_yscale() == "linear"
    assert min(band.min() for band in bands(ax_loss)) == 0.0  # 0.87 - 0.99 cut at zero
    plt.close(fig)


def test_one_recorded_epoch_is_visible_and_ticked_at_its_epoch():
    """A rehearsal records one epoch: a line through one point draws nothing without a marker."""
    fig = training_curves.figure({"a": [history([0.7], [0.8], [0.5], [0.4])]})
    for ax in fig.axes[:2]:
        assert all(line.get_marker() == "o" for line in ax.get_lines())
        assert list(ax.get_xticks()) == [1.0]
    plt.close(fig)


def test_step_loss_is_on_a_log_axis_with_its_legend_beside_it():
    steps = {
        run: [pd.DataFrame({"step": range(1, 51), "loss": scale * np.exp(-np.arange(50) / 10) + 0.01})] * 2
        for run, scale in (("a", 40.0), ("b", 2.0))
    }
    fig = layout(step_loss.figure(steps), "c")
    assert fig.axes[0].get_yscale() == "log"
    assert_legends_cover_no_data(fig)
    plt.close(fig)


def grad_flow_frame(per_step: bool) -> pd.DataFrame:
    layers = ["conv1.weight", "bn1.weight", "fc.weight"]
    return pd.DataFrame(
        [
            {
                "epoch": 1,
                **({"step": step} if per_step else {}),
                "layer": layer,
                "mean_abs_grad": 1e-4 * (i + 1) * step,
                "max_abs_grad": 1e-2 * (i + 1) * step,
            }
            for step in (1, 2, 3)
            for i, layer in enumerate(layers)
        ]
    )


@pytest.mark.parametrize("per_step", [False, True])
def test_gradient_flow_log_axis_starts_within_a_decade_of_the_smallest_gradient(per_step):
    frame = grad_flow_frame(per_step)
    if not per_step:
        frame["epoch"] = frame.index // 3 + 1  # three epochs: the last one is drawn
    fig = layout(grad_flow.figure({"a": frame, "b": frame * 1}, "log"), "c")
    shown = frame if per_step else frame[frame["epoch"] == 3]
    smallest = shown["mean_abs_grad"].min()
    for ax in fig.axes:
        low, high = ax.get_ylim()
        assert smallest / 10 <= low <= smallest  # not 1e-12 whatever the data
        assert shown["max_abs_grad"].max() <= high <= 10 * shown["max_abs_grad"].max()
    assert_legends_cover_no_data(fig)  # the legend stays off the last layer's bar
    plt.close(fig)


def test_a_figure_of_replicate_0_says_so():
    assert first({"a": ["r0", "r1", "r2"], "b": ["only"]}) == {"a (replicate 0 of 3)": "r0", "b": "only"}


def test_bn_sweep_and_grid_scores_keep_accuracy_within_0_and_1_and_their_legends_aside():
    def sweep(shift: float) -> pd.DataFrame:
        rows = [
            {"order": "shuffled", "mode": mode, "severity": sev, "batch_size": bs, "accuracy": acc}
            for mode, acc in (("eval", 0.97 + shift), ("train", 0.5))
            for sev in (0, 1, 2)
            for bs, acc in ((16, acc), (256, acc - 0.01))
        ]
        return pd.DataFrame(rows)

    fig = layout(bn_sweep.figure({"a": [sweep(0.03), sweep(-0.05), sweep(0.03)]}), "c")
    assert all(((band >= 0) & (band <= 1)).all() for ax in fig.axes for band in bands(ax))
    assert_legends_cover_no_data(fig)
    plt.close(fig)
    points = [(0.1, {"train_acc": [1.0, 0.9, 1.0], "val_acc": [0.8], "test_acc": [0.7, 0.75]})]
    fig = layout(grid_scores.figure(points, "dropout"), "c")
    error_bars = [segment for c in fig.axes[0].collections for segment in c.get_segments()]
    assert error_bars and max(segment[:, 1].max() for segment in error_bars) <= 1.0  # 1.0 + sd cut
    assert_legends_cover_no_data(fig)
    plt.close(fig)


def metrics(confusion: list[list[int]], seed: int, classes: list[str] | None = None) -> dict:
    """A metrics.json as evaluate.py writes it, reduced to what the figures read."""
    matrix = np.asarray(confusion)
    classes = classes or [f"c{i}" for i in range(len(matrix))]
    recall = np.diag(matrix) / matrix.sum(1)
    return {
        "classes": classes,
        "confusion": confusion,
        "test_acc": float(np.trace(matrix) / matrix.sum()),
        "test_images": int(matrix.sum()),
        "per_class": {
            c: {"recall": float(r), "precision": float(r), "f1": float(r)}
            for c, r in zip(classes, recall, strict=True)
        },
        "roc": {
            "macro_auc": 0.8 + seed / 100,
            "per_class": {c: {"fpr": [0, 0.2, 1], "tpr": [0, 0.8, 1], "auc": 0.8} for c in classes},
        },
        "provenance": {"seed": seed},
    }


def test_confusion_shows_the_mean_over_replicates_with_a_colour_bar_and_its_cell_values():
    replicates = [metrics([[8, 2], [1, 9]], 0), metrics([[6, 4], [3, 7]], 1), metrics([[9, 1], [2, 8]], 2)]
    fig = layout(confusion.figure({"run": replicates}), "c")
    ax = fig.axes[0]
    assert ax.images[0].colorbar is not None and len(fig.axes) == 2  # the panel and its colour bar
    mean = np.mean([[[0.8, 0.2], [0.1, 0.9]], [[0.6, 0.4], [0.3, 0.7]], [[0.9, 0.1], [0.2, 0.8]]], axis=0)
    assert np.allclose(ax.images[0].get_array(), 100 * mean)
    assert [t.get_text() for t in ax.texts] == [f"{100 * v:.0f}" for v in mean.ravel()]
    # the title says it is the mean of three, with the test accuracy as the table writes it
    table = summarize({"run": replicates}, ["test_acc"], {})
    assert "mean of 3 replicates" in ax.get_title()
    assert format_cell("test_acc", table.loc["run"]) in ax.get_title()
    plt.close(fig)


def test_confusion_of_one_replicate_names_its_seed_and_many_classes_drop_the_numbers():
    fig = confusion.figure({"run": [metrics(np.eye(21, dtype=int).tolist(), 4)]})
    ax = fig.axes[0]
    assert "seed 4" in ax.get_title() and not ax.texts  # 21 classes: cells too small for numbers
    plt.close(fig)


def test_roc_names_its_replicate_and_class_bars_show_the_mean_with_their_legends_aside():
    replicates = [metrics([[8, 2], [1, 9]], 5), metrics([[6, 4], [3, 7]], 6)]
    fig = layout(roc.figure({"run": replicates}), "c")
    assert "replicate 0 of 2, seed 5" in fig.axes[0].get_title()
    assert_legends_cover_no_data(fig)
    plt.close(fig)
    fig = layout(class_accuracy.figure({"run": replicates}, "recall"), "c")
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights == pytest.approx([(0.8 + 0.6) / 2, (0.9 + 0.7) / 2])
    assert "n=2" in fig.axes[0].get_legend().get_texts()[0].get_text()
    assert_legends_cover_no_data(fig)
    plt.close(fig)


def test_tsne_and_probe_curves_keep_their_legends_off_the_data():
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    features = rng.normal(size=(60, 5)) + labels[:, None]
    fig = layout(tsne.figure(features, labels, ["a", "b", "c"], "t", 60, 0), "")
    assert_legends_cover_no_data(fig)
    plt.close(fig)
    probe = pd.DataFrame(
        {
            "iteration": range(1, 21),
            "train_loss": np.linspace(3, 0.2, 20),
            "val_loss": np.linspace(3, 0.4, 20),
            "train_acc": np.linspace(0.1, 0.9, 20),
            "val_acc": np.linspace(0.1, 0.8, 20),
        }
    )
    fig = layout(probe_curves.figure({"p": probe}), "c")
    assert fig.axes[0].get_yscale() == "log"
    assert_legends_cover_no_data(fig)
    plt.close(fig)


def test_the_same_inputs_draw_the_same_png(tmp_path):
    one, two = tmp_path / "1.png", tmp_path / "2.png"
    save_figure(training_curves.figure(spiky_histories()), one, "c")
    save_figure(training_curves.figure(spiky_histories()), two, "c")
    assert one.read_bytes() == two.read_bytes()


def test_a_long_caption_wraps_inside_a_narrow_figure():
    points = [(0.1, {"train_acc": [0.9], "val_acc": [0.8], "test_acc": [0.7]})]
    caption = (
        "Train, validation and test accuracy against the dropout rate before the classifier "
        "(the report's dropout graph, S2)"
    )
    fig = layout(grid_scores.figure(points, "dropout"), caption)
    fig.canvas.draw()
    box, frame = fig._suptitle.get_window_extent(), fig.bbox
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1  # not cut at the edges
    plt.close(fig)
