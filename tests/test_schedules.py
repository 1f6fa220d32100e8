"""The learning-rate schedules against torch.optim.lr_scheduler's own, step by step, and the last
step of real training and pretraining runs at the rate the schedule says."""

from __future__ import annotations

import itertools
import math
import warnings

import pytest
import torch
from torch.optim import lr_scheduler

from cvrepro.data.tensors import TensorSet, channel_stats
from cvrepro.jobs.recipes import pretraining_recipe, run_recipe
from cvrepro.nets.heads import ProjectionHead
from cvrepro.nets.models import build_model
from cvrepro.train.batches import batch_starts, lr_factor, schedule_steps, steps_per_epoch
from cvrepro.train.engine import fit
from cvrepro.train.methods import pretraining_method
from cvrepro.train.optim import make_scheduler
from cvrepro.train.pretraining import PretrainNet
from cvrepro.train.supervised import supervised

EPOCHS, STEPS = 6, 7  # 42 optimizer steps


def torch_chain(optimizer: torch.optim.Optimizer, spec: dict, epochs: int, steps: int):
    """The schedule built from torch's schedulers alone: LinearLR warm-up, then CosineAnnealingLR
    (held at 0 past t_max with ConstantLR(factor=0)), StepLR or ConstantLR, joined by SequentialLR."""
    warmup, period = schedule_steps(spec, epochs, steps)
    warmup = warmup if warmup > 1 else 0
    parts, milestones = [], []
    if warmup:
        parts.append(
            lr_scheduler.LinearLR(optimizer, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1)
        )
        milestones.append(warmup)
    if spec["name"] == "cosine":
        parts.append(lr_scheduler.CosineAnnealingLR(optimizer, T_max=period - warmup, eta_min=0.0))
        if period < epochs * steps:
            parts.append(lr_scheduler.ConstantLR(optimizer, factor=0.0, total_iters=epochs * steps))
            milestones.append(period)
    elif spec["name"] == "step":
        parts.append(
            lr_scheduler.StepLR(optimizer, step_size=round(spec["step_size"] * steps), gamma=spec["gamma"])
        )
    else:
        parts.append(lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0))
    if len(parts) == 1:
        return parts[0]
    return lr_scheduler.SequentialLR(optimizer, parts, milestones=milestones)


def rates(make, spec: dict, epochs: int = EPOCHS, steps: int = STEPS) -> list[float]:
    """The learning rate each optimizer step uses, for a scheduler made by `make`."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR passes an epoch to step(): deprecated, still right
        scheduler = make(optimizer, spec, epochs, steps)
        seen = []
        for _ in range(epochs * steps):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
    return seen


SCHEDULES = (
    [
        {"name": "cosine", "t_max": t_max, "warmup_epochs": warmup, "step_size": 30, "gamma": 0.1}
        for t_max, warmup in itertools.product([None, 3, EPOCHS, 10, 200], [0, 1, 2])
    ]
    + [
        {"name": "step", "t_max": None, "warmup_epochs": warmup, "step_size": size, "gamma": 0.5}
        for warmup, size in itertools.product([0, 1], [1, 2.5, 30])
    ]
    + [
        {"name": "constant", "t_max": None, "warmup_epochs": warmup, "step_size": 30, "gamma": 0.1}
        for warmup in (0, 2)
    ]
)


@pytest.mark.parametrize(
    "spec",
    SCHEDULES,
    ids=lambda s: f"{s['name']}-tmax{s['t_max']}-warm{s['warmup_epochs']}-s{s['step_size']}",
)
def test_schedule_equals_torchs_own_schedulers_step_by_step(spec):
    ours, theirs = rates(make_scheduler, spec), rates(torch_chain, spec)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def test_cosine_anneals_to_zero_at_t_max_and_holds_there():
    spec = run_recipe(schedule={"name": "cosine", "t_max": 3, "warmup_epochs": 1})["schedule"]
    factors = [lr_factor(step, spec, EPOCHS, STEPS) for step in range(EPOCHS * STEPS)]
    assert factors[0] == pytest.approx(1 / STEPS) and factors[STEPS - 1] == 1.0 and factors[STEPS] == 1.0
    assert factors[3 * STEPS - 1] == pytest.approx(
        0.5 * (1 + math.cos(math.pi * (2 * STEPS - 1) / (2 * STEPS)))
    )
    assert all(f == 0.0 for f in factors[3 * STEPS :])  # held at 0, never climbing back
    with pytest.raises(ValueError, match="unknown schedule 'poly'"):
        lr_factor(0, {**spec, "name": "poly"}, 1, 1)


def test_a_warm_up_as_long_as_the_cosine_period_is_refused():
    spec = run_recipe(schedule={"name": "cosine", "t_max": 2, "warmup_epochs": 2})["schedule"]
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="warm-up .* must be shorter than t_max"):
        make_scheduler(optimizer, spec, EPOCHS, STEPS)


@pytest.mark.parametrize(
    "n, batch, expected", [(10, 4, 3), (9, 4, 2), (8, 4, 2), (1, 4, 1), (5, 1, 5), (5000, 256, 20)]
)
def test_steps_per_epoch_counts_the_batches_the_loop_runs(n, batch, expected):
    """A last batch of one image is dropped (BatchNorm needs two), except at batch size 1."""
    assert steps_per_epoch(n, batch) == len(batch_starts(n, batch)) == expected


def toy(n: int = 200) -> TensorSet:
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = (torch.rand(n, 1, 8, 8, generator=g) * 100 + labels[:, None, None, None] * 100).to(torch.uint8)
    return TensorSet(images, labels, ["a", "b"])


def network():
    torch.manual_seed(0)
    model = run_recipe(model={"width": 4})["model"]
    return build_model({**model, "in_channels": 1, "num_classes": 2, "image_size": 8})


@pytest.mark.parametrize(
    "schedule", SCHEDULES[::4], ids=lambda s: f"{s['name']}-tmax{s['t_max']}-warm{s['warmup_epochs']}"
)
@pytest.mark.parametrize("kind", ["train", "simclr"])
def test_the_last_step_of_a_run_has_the_rate_the_schedule_says(kind, schedule):
    """fit() plans the schedule with the steps its loop runs: the history's last step rate is
    lr * lr_factor(total steps - 1), for training and pretraining alike (n = 201 leaves a last
    batch of one image that both drop; SimCLR once planned n // batch steps and ran one more)."""
    data, epochs, batch = toy(201), 3, 40
    mean, std = channel_stats(data.images)
    optimizer = {"name": "sgd", "lr": 0.05}
    if kind == "train":
        recipe = run_recipe(
            epochs=epochs, batch_size=batch, optimizer=optimizer, schedule=schedule, augment="none"
        )
        net = network()
        method = supervised(net, recipe, mean, std, 2, None)
    else:
        recipe = pretraining_recipe(
            method="simclr", epochs=epochs, batch_size=batch, optimizer=optimizer, schedule=schedule
        )
        encoder = network()
        net = PretrainNet(encoder, ProjectionHead(encoder.num_features, 8, 4, True))
        method = pretraining_method(net, recipe, mean, std, None)
    if recipe["schedule"]["name"] == "cosine" and recipe["schedule"]["warmup_epochs"] >= (
        recipe["schedule"]["t_max"] or epochs
    ):
        pytest.skip("warm-up as long as the period: refused by the config checks")
    history = fit(net, data, recipe, method, log=lambda line: None).history
    steps = steps_per_epoch(len(data), batch)
    assert [row["steps"] for row in history] == [steps] * epochs == [5] * epochs
    expected = 0.05 * lr_factor(epochs * steps - 1, recipe["schedule"], epochs, steps)
    assert history[-1]["last_lr"] == pytest.approx(expected, rel=1e-12, abs=1e-15)
