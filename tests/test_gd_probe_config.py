"""Probes fitted by minibatch_gd and the probe_curves figure in a study: the config checks
(one-line errors naming the key) and the drawing of a probe's history."""

from __future__ import annotations

import copy

import pandas as pd
import plot as plot_script
import pytest

from conftest import TINY_STUDY
from cvrepro.config import ConfigError, resolve_study

GD = {"kind": "softmax", "solver": "minibatch_gd", "features": "pixels", "train": "small", "test": "test"}


def study(**sections) -> dict:
    spec = copy.deepcopy(TINY_STUDY)
    for section, items in sections.items():
        spec[section] = {**spec[section], **items}
    return spec


def error_for(spec: dict) -> str:
    with pytest.raises(ConfigError) as info:
        resolve_study("tiny", spec, "studies/tiny.yaml")
    assert "\n" not in str(info.value)
    return str(info.value)


def test_a_gd_probe_with_validation_and_early_stopping_is_valid():
    resolve_study("tiny", study(probes={"gd": {**GD, "val": "val", "patience": 5}}), "studies/tiny.yaml")


@pytest.mark.parametrize(
    "probe, expected",
    [
        (
            {**GD, "solver": "lbfgs", "patience": 5},
            "probes.gd.patience: early stopping needs solver minibatch_gd",
        ),
        ({**GD, "patience": 5}, "probes.gd.patience: early stopping needs solver minibatch_gd and a `val`"),
        ({**GD, "solver": "lbfgs", "val": "val"}, "probes.gd.val: only used by solver minibatch_gd"),
        ({**GD, "kind": "svm"}, "probes.gd.solver: minibatch_gd fits softmax or logistic, not svm"),
        ({**GD, "val": "big"}, "probes.gd.val: subset 'big' may overlap the train subset 'small'"),
        ({**GD, "val": "nope"}, "probes.gd.val: no subset named 'nope'"),
    ],
)
def test_gd_probe_errors(probe, expected):
    assert expected in error_for(study(probes={"gd": probe}))


def test_probe_curves_draws_only_gd_probes():
    spec = study(probes={"gd": GD}, figures={"c": {"kind": "probe_curves", "runs": ["pix"]}})
    assert "figures.c.runs: probe 'pix' has solver lbfgs" in error_for(spec)
    spec = study(probes={"gd": GD}, figures={"c": {"kind": "probe_curves", "runs": ["a"]}})
    assert "figures.c.runs: no run named 'a'" in error_for(spec)


def test_probe_curves_draws_each_probes_history(tmp_path):
    histories = []
    for name, rows in (("a", 30), ("b", 12)):
        path = tmp_path / f"{name}.csv"
        frame = pd.DataFrame({"iteration": range(1, rows + 1), "train_loss": 1.0, "train_acc": 0.5})
        frame["val_loss"], frame["val_acc"] = 1.1, 0.4
        frame.to_csv(path, index=False)
        histories.append(path)
    spec = {
        "kind": "probe_curves",
        "caption": "c",
        "runs": ["a", "b"],
    }
    plot_script.main(spec, {"jobs": {"a": [histories[0]], "b": [histories[1]]}}, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 10_000
