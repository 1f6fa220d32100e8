"""Collapse measures (cvrepro.train.collapse): SimSiam's output std and the effective rank by
hand; in a real pretraining they join the history without changing the training's numbers, and
a collapsed network is warned about."""

from __future__ import annotations

import math

import pytest
import torch

from cvrepro.data.tensors import TensorSet
from cvrepro.jobs.recipes import pretraining_recipe
from cvrepro.nets.models import build_model
from cvrepro.train.collapse import (
    WARN_EFF_RANK,
    collapse_warning,
    effective_rank,
    output_std,
    with_collapse,
)
from cvrepro.train.engine import fit
from cvrepro.train.methods import pretrain_net, pretraining_method


def test_output_std_is_zero_when_collapsed_and_one_over_sqrt_d_when_spread():
    assert output_std(torch.ones(32, 16) * 3).item() == 0.0
    spread = torch.randn(8192, 64, generator=torch.Generator().manual_seed(0))
    assert output_std(spread).item() == pytest.approx(1 / math.sqrt(64), rel=0.02)


def test_effective_rank_by_hand():
    """Rows (+-3, 0), (0, +-1): centred already, singular values 3 sqrt 2 and sqrt 2, so
    p = (3/4, 1/4) and the rank is exp(-(3/4 ln 3/4 + 1/4 ln 1/4)) = 1.7548."""
    h = torch.tensor([[3.0, 0.0], [-3.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    expected = math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert effective_rank(h).item() == pytest.approx(expected, rel=1e-6)
    assert effective_rank(h + 5).item() == pytest.approx(expected, rel=1e-6)  # centred first
    line = torch.arange(10.0)[:, None] * torch.tensor([[1.0, 2.0, -1.0]])
    assert effective_rank(line).item() == pytest.approx(1.0, abs=1e-4)
    assert effective_rank(torch.cat([torch.eye(5), -torch.eye(5)])).item() == pytest.approx(5.0, rel=1e-5)


def toy_data(n: int = 48) -> TensorSet:
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = (torch.rand(n, 1, 12, 12, generator=g) * 100 + labels[:, None, None, None] * 120).to(torch.uint8)
    return TensorSet(images, labels, ["dark", "bright"])


def simclr(epochs: int = 2):
    recipe = pretraining_recipe(
        method="simclr",
        model={"arch": "resnet18", "width": 4},
        epochs=epochs,
        batch_size=16,
        augment="crop_flip",
        projection={"hidden": 16, "dim": 8, "batchnorm": True},
        optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0},
    )
    torch.manual_seed(0)
    net = pretrain_net(
        build_model({**recipe["model"], "in_channels": 1, "num_classes": 2, "image_size": 12}), recipe
    )
    return net, recipe, pretraining_method(net, recipe, [0.5], [0.25], None)


def test_measured_after_each_epoch_without_changing_the_training():
    data = toy_data()
    plain_net, recipe, plain = simclr()
    plain_history = fit(plain_net, data, recipe, plain, log=lambda line: None).history
    net, recipe, method = simclr()
    lines: list[str] = []
    history = fit(
        net,
        data,
        recipe,
        with_collapse(method, net, data.images, [0.5], [0.25], lines.append),
        log=lines.append,
    ).history
    for ours, theirs in zip(history, plain_history, strict=True):
        assert ours["train_loss"] == theirs["train_loss"]
        assert 0 < ours["out_std"] <= 1 and ours["out_std_ratio"] == pytest.approx(
            ours["out_std"] * math.sqrt(8)
        )
        assert 1 <= ours["eff_rank"] <= net.encoder.num_features
    for a, b in zip(net.state_dict().values(), plain_net.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_collapsed_network_is_warned_about():
    net, recipe, method = simclr()
    with torch.no_grad():  # every image to one projection: the last layer's weights zeroed
        for module in net.projector.modules():
            if isinstance(module, torch.nn.Linear):
                last = module
        last.weight.zero_()
    lines: list[str] = []
    scores = with_collapse(method, net, toy_data().images, [0.5], [0.25], lines.append).after_epoch(None)
    assert scores["out_std"] == 0.0
    assert lines == [collapse_warning(scores)] and "output std x sqrt(d) 0.000 < 0.2" in lines[0]
    assert collapse_warning({"out_std_ratio": 0.9, "eff_rank": WARN_EFF_RANK + 1}) is None
    assert "effective rank 1.00" in collapse_warning({"out_std_ratio": 0.9, "eff_rank": 1.0})


def test_the_pretraining_job_logs_them_and_the_report_warns(tmp_path):
    """pretrain.py (a Barlow Twins pretraining): history.csv has the measures per epoch, metrics.json
    the last epoch's and its warning; REPORT.md's caveats name a pretraining whose warning is set."""
    import csv

    import pretrain as pretrain_script
    from test_cuda import model_files, write_easy_data

    from cvrepro.jobs.job import Job
    from cvrepro.report.study_report import collapse_caveats

    recipe = pretraining_recipe(
        method="barlow_twins",
        model={"arch": "convnet4", "width": 8},
        epochs=2,
        batch_size=64,
        augment="crop_flip",
        barlow_twins={"projection": {"hidden": 32, "dim": 16}},
    )
    lines: list[str] = []
    job = Job(torch.device("cpu"), log=lines.append)
    metrics = pretrain_script.main(
        recipe,
        data=write_easy_data(tmp_path),
        probe=None,
        probe_val=None,
        out=model_files(tmp_path, "bt"),
        ctx=job,
    )
    with open(tmp_path / "bt_history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(float(row["eff_rank"]) >= 1 and float(row["out_std"]) > 0 for row in rows)
    assert metrics["eff_rank"] == pytest.approx(float(rows[-1]["eff_rank"]))
    assert metrics["collapse_warning"] == collapse_warning(metrics)
    jobs = {
        "bt": ("pretraining", metrics),
        "fell": ("pretraining", {"collapse_warning": "warning: representations collapsing: x"}),
    }
    assert collapse_caveats(jobs) == [
        *(
            [f"pretraining `bt`: {metrics['collapse_warning']} at its last epoch"]
            if metrics["collapse_warning"]
            else []
        ),
        "pretraining `fell`: warning: representations collapsing: x at its last epoch",
    ]
