"""The one training loop, shared by supervised training and every pretraining method.

What differs between those is a `Method` (cvrepro.train.supervised, cvrepro.train.methods): the
loss of one batch, what happens after each optimizer step (an EMA teacher, a queue), the numbers
an epoch reports and any state outside the model that a resume must keep. Everything else exists
once, here, and `fit` reads top to bottom: set up (generator, optimizer, schedule), resume, then
per epoch train_one_epoch, its history row, early stopping and the resume state. Sums are
accumulated on the device and read once per epoch, so the loop never waits on the host inside an
epoch: the methods' steps build no tensor from Python values and branch on no tensor
(tests/test_host_sync.py counts such operations in each), and under fp16 the GradScaler's skip of
an overflowing step happens inside fused optimizers on CUDA instead of in a host-side check.

Precision (cvrepro.nets.device): under fp16 the loss is scaled before backward and the gradients
unscaled (GradScaler.unscale_) before the gradient-flow statistics read them, so they mean the
same under every precision; a step the scaler skips (an overflow) adds 0 to them.

The optimizer, its per-step schedule and the fp16 scaler: cvrepro.train.optim; resuming:
cvrepro.train.resume; early stopping: cvrepro.train.early_stopping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from cvrepro.data.tensors import TensorSet
from cvrepro.nets.device import prepare_device
from cvrepro.nets.models import frozen_bn_mode, set_train_mode
from cvrepro.train.batches import batch_starts, epoch_images, steps_per_epoch
from cvrepro.train.early_stopping import EarlyStop
from cvrepro.train.optim import Updates, make_updates
from cvrepro.train.resume import ResumeFile, load_state, restore_training, save_state, training_state

Sums = dict[str, torch.Tensor]


@dataclass
class Method:
    """What one training method adds to the loop.

    step(images, labels, generator) -> (loss, sums): the loss of one batch of uint8 images and
    the device tensors to add up over the epoch; summarize(sums, images, steps) -> the epoch's
    scores; after_step(step, total): called after every optimizer step with the 0-based index of
    the step just taken and the training's total optimizer steps (an EMA teacher's update and its
    momentum schedule, a queue, a centre); after_epoch(generator) -> further scores (validation,
    an online probe; the training generator for any random draw they make, so a resumed run draws
    the same); state: what the method learns or keeps outside the model (center loss's centres,
    the online probe, a teacher, a queue), in train mode during training and saved in the resume
    state through state_dict / load_state_dict; views: images the model sees per training image
    (SimCLR: 2), for the throughput column.
    """

    step: Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, Sums]]
    summarize: Callable[[dict[str, float], int, int], dict[str, float]]
    after_epoch: Callable[[torch.Generator], dict[str, float]] = lambda generator: {}
    state: nn.Module | None = None
    views: int = 1
    after_step: Callable[[int, int], None] = lambda step, total: None

    def state_dict(self) -> dict | None:
        return self.state.state_dict() if self.state is not None else None

    def load_state_dict(self, saved: dict | None) -> None:
        if self.state is not None:
            self.state.load_state_dict(saved)


@dataclass(frozen=True)
class EpochOptions:
    """How one epoch runs: batches of `batch_size` in a seeded random order (or the data's own
    without `shuffle`), only the first `batches` of them when given (the last epoch of a recipe
    that counts `steps`); frozen BatchNorm layers in `frozen_bn` mode
    (cvrepro.nets.models.set_train_mode); gradient statistics of the `watched` weights, per step
    when `grads_per_step`."""

    batch_size: int
    shuffle: bool
    frozen_bn: str
    batches: int | None = None
    watched: list[tuple[str, nn.Parameter]] = field(default_factory=list)
    grads_per_step: bool = False


@dataclass
class EpochResult:
    """One epoch: the method's scores (with last_lr, the learning rate of its last step), its
    gradient rows and each optimizer step's batch loss."""

    scores: dict[str, float]
    grads: list[dict]
    step_losses: list[float]


def watched_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The weights whose mean |gradient| gradient-flow plots show: every trainable `*.weight`
    (convolutions, linear layers and BatchNorm scales, as S5's report plots them)."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad and n.endswith("weight")]


class GradFlow:
    """Mean and max |grad| of the watched weights, added up on the device over an epoch's steps
    (and kept per step when asked); a step the fp16 scaler skips (an overflow) counts 0."""

    def __init__(self, watched: list[tuple[str, nn.Parameter]], device: torch.device, per_step: bool):
        self.names = [name for name, _ in watched]
        self.weights = [weight for _, weight in watched]
        self.sums = torch.zeros(len(watched), device=device)
        self.max = torch.zeros(len(watched), device=device)
        self.per_step: list[torch.Tensor] | None = [] if per_step else None

    def add(self, scaled: bool) -> None:
        if not self.weights:
            return
        means = torch.stack([p.grad.abs().mean() for p in self.weights])
        maxes = torch.stack([p.grad.abs().amax() for p in self.weights])
        if scaled:
            means, maxes = (torch.nan_to_num(v, nan=0.0, posinf=0.0) for v in (means, maxes))
        self.sums += means
        self.max = torch.maximum(self.max, maxes)
        if self.per_step is not None:
            self.per_step.append(torch.stack([means, maxes]))

    def tensors(self) -> dict[str, torch.Tensor]:
        per_step = torch.stack(self.per_step) if self.per_step else self.sums.new_zeros(0)
        return {"grad_sums": self.sums, "grad_max": self.max, "step_grads": per_step}

    def rows(self, fetched: dict[str, list[float]], steps: int) -> list[dict]:
        """A row per weight: the mean over steps of its mean |grad| and the largest |grad| of any
        step; with per_step, a row per step (`step` numbered from 1 in the epoch) and weight."""
        if self.per_step:
            values, w = fetched["step_grads"], len(self.names)
            return [
                {
                    "step": i + 1,
                    "layer": name,
                    "mean_abs_grad": values[at + j],
                    "max_abs_grad": values[at + w + j],
                }
                for i, at in enumerate(range(0, len(values), 2 * w))
                for j, name in enumerate(self.names)
            ]
        means, maxes = fetched["grad_sums"], fetched["grad_max"]
        return [
            {"layer": name, "mean_abs_grad": mean / steps, "max_abs_grad": largest}
            for name, mean, largest in zip(self.names, means, maxes, strict=True)
        ]


def train_one_epoch(
    model: nn.Module,
    data: TensorSet,
    method: Method,
    updates: Updates,
    generator: torch.Generator,
    options: EpochOptions,
) -> EpochResult:
    """One pass over `data` as `options` say: per batch the method's loss, backward, gradient
    statistics, an optimizer step and the method's after-step hook."""
    set_train_mode(model, options.frozen_bn)
    if method.state is not None:
        method.state.train()
    device = data.images.device
    if options.shuffle:
        order = torch.randperm(len(data), device=device, generator=generator)
    else:
        order = torch.arange(len(data), device=device)
    starts = batch_starts(len(data), options.batch_size)[: options.batches]
    grads = GradFlow(options.watched, device, options.grads_per_step)
    sums: Sums = {}
    images, last_lr, losses = 0, None, []
    for start in starts:
        batch = order[start : start + options.batch_size]
        loss, parts = method.step(data.images[batch], data.labels[batch], generator)
        updates.backward(loss)
        losses.append(loss.detach())
        grads.add(scaled=updates.scaler is not None)
        last_lr = updates.lr
        method.after_step(updates.step(), updates.total)
        for key, value in parts.items():
            sums[key] = sums[key] + value if key in sums else value
        images += len(batch)
    sums_on_device = torch.cat([value.double().reshape(1) for value in sums.values()])
    fetched = _fetch({"sums": sums_on_device, "losses": torch.stack(losses), **grads.tensors()})
    scores = method.summarize(dict(zip(sums, fetched["sums"], strict=True)), images, len(starts))
    if not math.isfinite(scores["train_loss"]):
        raise FloatingPointError(
            f"training loss became {scores['train_loss']}; lower the learning rate or check the data"
        )
    scores["last_lr"] = last_lr
    return EpochResult(scores, grads.rows(fetched, len(starts)), fetched["losses"])


def _fetch(tensors: dict[str, torch.Tensor]) -> dict[str, list[float]]:
    """The epoch's one wait on the device: every tensor as float64 (which holds counts exactly and
    float32 values unchanged) in one transfer, handed back by name as lists of Python floats."""
    flat = torch.cat([t.double().reshape(-1) for t in tensors.values()]).cpu()
    parts = flat.split([t.numel() for t in tensors.values()])
    return {name: part.tolist() for name, part in zip(tensors, parts, strict=True)}


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    grad_flow: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)  # every optimizer step's batch loss (steps.csv)
    best: float | None = None
    best_epoch: int | None = None
    best_weights: dict | None = None
    stopped_early: bool = False

    def record(self, row: dict, epoch: EpochResult) -> None:
        """Add one epoch: its history row, its steps' losses and gradient rows, steps numbered on
        from the previous epoch's."""
        done = self.steps[-1]["step"] if self.steps else 0
        self.history.append(row)
        self.steps += [
            {"epoch": row["epoch"], "step": done + i, "loss": loss}
            for i, loss in enumerate(epoch.step_losses, 1)
        ]
        self.grad_flow += [
            {"epoch": row["epoch"], **grad, **({"step": done + grad["step"]} if "step" in grad else {})}
            for grad in epoch.grads
        ]


def fit(
    model: nn.Module,
    data: TensorSet,
    recipe: dict,
    method: Method,
    *,
    stopping: dict | None = None,
    watch_grads: str | None = None,
    resume: ResumeFile | None = None,
    log: Callable[[str], None] = print,
) -> FitResult:
    """Train `model` on `data` with `method` as the recipe says (its keys epochs, steps,
    batch_size, shuffle, optimizer, schedule and seed); stop early as `stopping` says (a run's
    early_stopping); record mean and max |gradient| per weight and "epoch" or "step", as
    `watch_grads` says (a run's grad_flow and grad_flow_per); resumable from `resume` after any
    epoch."""
    device = data.images.device
    prepare_device(device)
    epochs, batch_size = recipe["epochs"], recipe["batch_size"]
    steps = steps_per_epoch(len(data), batch_size)
    generator = torch.Generator(device=device)
    generator.manual_seed(recipe["seed"])
    if epoch_images(len(data), batch_size, None) < len(data):
        log("the last batch of one image is left out of every epoch (BatchNorm needs two)")
    updates = make_updates(model, recipe, steps, device)
    watched = watched_parameters(model) if watch_grads else []
    options = EpochOptions(
        batch_size, recipe["shuffle"], frozen_bn_mode(recipe), None, watched, watch_grads == "step"
    )
    result, first_epoch = FitResult(), 1
    if (state := load_state(resume)) is not None:
        trainer = (model, updates.optimizer, updates.scheduler, generator, updates.scaler)
        first_epoch = restore_training(state, *trainer, reseed=recipe["seed"], log=log)
        result = FitResult(**state["result"])
        method.load_state_dict(state["method_state"])
    started = saved = time.perf_counter()
    for epoch in range(first_epoch, epochs + 1):
        lr, start = updates.lr, _clock(device)
        # A recipe that counts steps (S7's 3,000 iterations) ends inside its last epoch.
        batches = recipe["steps"] - (epochs - 1) * steps if recipe["steps"] and epoch == epochs else None
        done = train_one_epoch(model, data, method, updates, generator, replace(options, batches=batches))
        seconds, images = _clock(device) - start, epoch_images(len(data), batch_size, batches)
        row = {"epoch": epoch, "lr": lr, **done.scores, "epoch_seconds": seconds}
        row["images_per_s"] = method.views * images / seconds
        row.update(method.after_epoch(generator))  # validation, a probe
        row["steps"] = batches or steps
        result.record(row, done)
        elapsed = (time.perf_counter() - started) / (epoch - first_epoch + 1)
        log(_epoch_line(row, epochs, elapsed * (epochs - epoch)))
        if stopping is not None:
            _track_best(result, row, stopping, model, log)
        last = epoch == epochs or result.stopped_early
        if resume is not None and (last or time.perf_counter() - saved >= resume.every_s):
            trainer = (model, updates.optimizer, updates.scheduler, generator, updates.scaler)
            extras = {"result": vars(result), "method_state": method.state_dict()}
            save_state(resume, training_state(epoch, *trainer, **extras))
            saved = time.perf_counter()
        if result.stopped_early:
            break
    if result.best_weights is not None and stopping["restore_best"]:
        model.load_state_dict(result.best_weights)
        log(f"restored the weights of epoch {result.best_epoch} ({stopping['metric']} {result.best:.4f})")
    return result


def _track_best(result: FitResult, row: dict, stopping: dict, model: nn.Module, log) -> None:
    """Early stopping (S7's rule, cvrepro.train.early_stopping): keep the best epoch's weights;
    stop after `patience` epochs without improvement of `metric`."""
    metric, patience = stopping["metric"], stopping["patience"]
    rule = EarlyStop(patience, metric.endswith("loss"), result.best, result.best_epoch)
    if rule.update(row[metric], row["epoch"]):
        result.best, result.best_epoch = rule.best, rule.best_at
        result.best_weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    elif rule.exhausted(row["epoch"]):
        log(
            f"early stop: {metric} has not improved for {patience} epochs (best {result.best:.4f} at epoch {result.best_epoch})"
        )
        result.stopped_early = True


def _epoch_line(row: dict, epochs: int, eta: float) -> str:
    """One progress line: the epoch, its scores, speed and the estimated time left."""
    scores = "  ".join(
        f"{k} {v:.4f}" for k, v in row.items() if k.endswith(("loss", "acc")) and isinstance(v, float)
    )
    return (
        f"epoch {row['epoch']}/{epochs}  {scores}  lr {row['lr']:.3g}  {row['epoch_seconds']:.1f}s  "
        f"{row['images_per_s']:.0f} img/s  eta {eta:.0f}s"
    )


def _clock(device: torch.device) -> float:
    """perf_counter once the device has finished its queued work (an epoch's honest time)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()
