"""How an epoch splits into batches, and how the learning rate moves over those steps: shared by
the training loop, its schedules and the config checks (no torch, so a check can count steps
while Snakemake parses the workflow).

The schedule is a closed-form multiplier of the peak learning rate, `lr_factor(step)`, which the
loop wraps in torch's LambdaLR. tests/test_schedules.py proves it equal, step by step, to the
chain of torch.optim.lr_scheduler's own schedulers (LinearLR warm-up, then CosineAnnealingLR /
StepLR / ConstantLR, joined by SequentialLR) for every combination the config allows. Periods are
given in epochs, as in the seed reports (`T_max` 200 with 20 epochs), and turned into steps with
the one `steps_per_epoch` that the loop also uses."""

from __future__ import annotations

import math


def batch_starts(n: int, batch_size: int) -> list[int]:
    """Where each batch of an epoch over n images starts. A last batch of a single image is
    dropped: BatchNorm cannot normalise one image in train mode, and SimCLR needs a pair."""
    starts = list(range(0, n, batch_size))
    if batch_size > 1 and len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    return starts


def steps_per_epoch(n: int, batch_size: int) -> int:
    return len(batch_starts(n, batch_size))


def epoch_images(n: int, batch_size: int, batches: int | None) -> int:
    """Images an epoch over n trains on: every one, or those of its first `batches` batches."""
    starts = batch_starts(n, batch_size)
    ends = [min(start + batch_size, n) for start in starts][: batches or len(starts)]
    return sum(end - start for start, end in zip(starts, ends, strict=False))


SCHEDULES = ("cosine", "constant", "step")


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
