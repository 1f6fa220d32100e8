"""The optimizer and its learning-rate schedule, stepped once per training batch.

The schedule is a closed-form multiplier of the peak learning rate, `lr_factor(step)`, wrapped in
torch's LambdaLR. tests/test_schedules.py proves it equal, step by step, to the chain of
torch.optim.lr_scheduler's own schedulers (LinearLR warm-up, then CosineAnnealingLR / StepLR /
ConstantLR, joined by SequentialLR) for every combination the config allows. Periods are given in
epochs, as in the seed reports (`T_max` 200 with 20 epochs), and turned into steps with the one
`steps_per_epoch` (cvrepro.train.batches) that the training loop also uses.
"""

from __future__ import annotations

import math

import torch

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "constant", "step")


def make_optimizer(params, spec: dict) -> torch.optim.Optimizer:
    name = spec["name"]
    if name == "sgd":
        return torch.optim.SGD(
            params,
            lr=spec["lr"],
            momentum=spec["momentum"],
            nesterov=spec["nesterov"] and spec["momentum"] > 0,
            weight_decay=spec["weight_decay"],
        )
    if name in ("adam", "adamw"):
        optimizer = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return optimizer(params, lr=spec["lr"], betas=tuple(spec["betas"]), weight_decay=spec["weight_decay"])
    raise ValueError(f"unknown optimizer {name!r}; choose from {list(OPTIMIZERS)}")


def schedule_steps(spec: dict, epochs: int, steps: int) -> tuple[int, int]:
    """(warm-up steps, cosine period in steps, counted from step 0) of a schedule spec."""
    warmup = round(spec["warmup_epochs"] * steps)
    period = round((spec["t_max"] or epochs) * steps)
    return warmup, period


def lr_factor(step: int, spec: dict, epochs: int, steps: int) -> float:
    """The multiplier of the peak learning rate at optimizer step `step` (0-based).

    Warm-up: (step + 1) / W over the first W steps (torch's LinearLR from 1/W to 1 over W - 1
    steps). Then cosine: 0.5 (1 + cos(pi t / (P - W))) for t = step - W, reaching 0 at step P =
    t_max epochs, and 0 from there on (a t_max shorter than the run anneals and then holds,
    rather than climbing back as CosineAnnealingLR would). Step: gamma ** (t // step_size steps).
    Constant: 1.
    """
    warmup, period = schedule_steps(spec, epochs, steps)
    if warmup > 1 and step < warmup:
        return (step + 1) / warmup
    warmup = warmup if warmup > 1 else 0
    t = step - warmup
    name = spec["name"]
    if name == "constant":
        return 1.0
    if name == "cosine":
        if step >= period:
            return 0.0
        return 0.5 * (1 + math.cos(math.pi * t / (period - warmup)))
    if name == "step":
        return spec["gamma"] ** (t // max(1, round(spec["step_size"] * steps)))
    raise ValueError(f"unknown schedule {name!r}; choose from {list(SCHEDULES)}")


def make_scheduler(
    optimizer: torch.optim.Optimizer, spec: dict, epochs: int, steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step LambdaLR of `lr_factor`; a warm-up at least as long as the cosine period is an
    error (the config checks say so first, naming the key)."""
    warmup, period = schedule_steps(spec, epochs, steps)
    if spec["name"] == "cosine" and warmup >= period:
        raise ValueError(f"schedule: warm-up ({warmup} steps) must be shorter than t_max ({period} steps)")
    lr_factor(0, spec, epochs, steps)  # unknown names fail here, before training
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, spec, epochs, steps))
