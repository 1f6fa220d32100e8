"""The one training loop, shared by supervised training, SimCLR and triplet pretraining, with
its optimizer and learning-rate schedule.

What differs between those is a `Method` (cvrepro.train.supervised, cvrepro.train.pretraining):
the loss of one batch and the numbers an epoch reports. Everything else exists once, here: the
batch plan and the schedule built from it, the seeded order, the optimizer, gradient-flow
recording, the NaN check, early stopping, the history and resuming after a kill. Sums are
accumulated on the device and read once per epoch, so the loop never waits on the host inside an
epoch: the methods' steps build no tensor from Python values and branch on no tensor
(tests/test_host_sync.py counts such operations in each), and under fp16 the GradScaler's skip of
an overflowing step happens inside fused optimizers on CUDA instead of in a host-side check.

Precision (cvrepro.nets.device): under fp16 the loss is scaled before backward and the gradients
unscaled (GradScaler.unscale_) before the gradient-flow statistics read them, so they mean the
same under every precision; a step the scaler skips (an overflow) adds 0 to them.

The schedule, stepped once per training batch, is torch's LambdaLR of the closed-form
multiplier `lr_factor` (cvrepro.train.batches, beside the batch plan it counts in).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate

import torch
from torch import nn

from cvrepro.data.tensors import TensorSet
from cvrepro.evaluate.early_stopping import EarlyStop
from cvrepro.nets.checkpoint import ResumeFile, load_state, restore_training, save_state, training_state
from cvrepro.nets.device import grad_scaler, prepare_device
from cvrepro.nets.models import frozen_bn_mode, set_train_mode
from cvrepro.train.batches import batch_starts, epoch_images, lr_factor, schedule_steps

Sums = dict[str, torch.Tensor]


@dataclass
class Method:
    """What one training method adds to the loop.

    step(images, labels, generator) -> (loss, sums): the loss of one batch of uint8 images and
    the device tensors to add up over the epoch; summarize(sums, images, steps) -> the epoch's
    scores; after_epoch(generator) -> further scores (validation, an online probe; the training
    generator for any random draw they make, so a resumed run draws the same); state: learned state
    outside the model that resuming must restore (center loss's centres); views: images the
    model sees per training image (SimCLR: 2), for the throughput column.
    """

    step: Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, Sums]]
    summarize: Callable[[dict[str, float], int, int], dict[str, float]]
    after_epoch: Callable[[torch.Generator], dict[str, float]] = lambda generator: {}
    state: nn.Module | None = None
    views: int = 1


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    grad_flow: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)  # every optimizer step's batch loss (steps.csv)
    best: float | None = None
    best_epoch: int | None = None
    best_weights: dict | None = None
    stopped_early: bool = False

    def record(self, row: dict, step_losses: list[float], grads: list[dict]) -> None:
        """Add one epoch: its history row, its steps' losses and gradient rows, steps numbered on
        from the previous epoch's."""
        epoch, done = row["epoch"], self.steps[-1]["step"] if self.steps else 0
        self.history.append(row)
        self.steps += [
            {"epoch": epoch, "step": done + i, "loss": loss} for i, loss in enumerate(step_losses, 1)
        ]
        self.grad_flow += [
            {"epoch": epoch, **grad, **({"step": done + grad["step"]} if "step" in grad else {})}
            for grad in grads
        ]


def watched_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The weights whose mean |gradient| gradient-flow plots show: every trainable `*.weight`
    (convolutions, linear layers and BatchNorm scales, as S5's report plots them)."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad and n.endswith("weight")]


def train_one_epoch(
    model: nn.Module,
    data: TensorSet,
    method: Method,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    batch_size: int,
    watched: list[tuple[str, nn.Parameter]],
    frozen_bn: str,
    shuffle: bool,
    batches: int | None = None,
    grads_per_step: bool = False,
    scaler: torch.amp.GradScaler | None = None,
) -> tuple[dict[str, float], list[dict], list[float]]:
    """One pass in a seeded random order, or the data's own without `shuffle` (its first
    `batches` batches only, when given: the last epoch of a recipe that counts `steps`). Returns
    (scores, gradient rows, each step's batch loss). A gradient row holds a watched weight's mean
    and max |grad|: per step (`step` numbered from 1 in the epoch) when `grads_per_step`, else the
    mean over steps of its mean |grad| and the largest |grad| of any step. Frozen BatchNorm layers
    run in `frozen_bn` mode (cvrepro.nets.models.set_train_mode). `scaler`: fp16's GradScaler."""
    set_train_mode(model, frozen_bn)
    if method.state is not None:
        method.state.train()
    device = data.images.device
    order = (
        torch.randperm(len(data), device=device, generator=generator)
        if shuffle
        else torch.arange(len(data), device=device)
    )
    starts = batch_starts(len(data), batch_size)[:batches]
    sums: Sums = {}
    grad_sums = torch.zeros(len(watched), device=device)
    grad_max = torch.zeros(len(watched), device=device)
    images, last_lr, losses, step_grads = 0, None, [], []
    for start in starts:
        batch = order[start : start + batch_size]
        loss, parts = method.step(data.images[batch], data.labels[batch], generator)
        optimizer.zero_grad(set_to_none=True)
        _backward(loss, optimizer, scaler)
        losses.append(loss.detach())
        if watched:
            means = torch.stack([p.grad.abs().mean() for _, p in watched])
            maxes = torch.stack([p.grad.abs().amax() for _, p in watched])
            if scaler is not None:  # an overflowing step, which the scaler skips, counts 0
                means, maxes = (torch.nan_to_num(v, nan=0.0, posinf=0.0) for v in (means, maxes))
            grad_sums += means
            grad_max = torch.maximum(grad_max, maxes)
            if grads_per_step:
                step_grads.append(torch.stack([means, maxes]))
        last_lr = optimizer.param_groups[0]["lr"]
        _optimizer_step(optimizer, scaler)
        scheduler.step()
        for key, value in parts.items():
            sums[key] = sums[key] + value if key in sums else value
        images += len(batch)
    keys = list(sums)
    values, grad_means, grad_maxes, step_losses, per_step = _fetch(
        list(sums.values()), grad_sums, grad_max, losses, step_grads
    )
    scores = method.summarize(dict(zip(keys, values, strict=True)), images, len(starts))
    if not math.isfinite(scores["train_loss"]):
        raise FloatingPointError(
            f"training loss became {scores['train_loss']}; lower the learning rate or check the data"
        )
    scores["last_lr"] = last_lr  # the learning rate of the epoch's last step
    names = [name for name, _ in watched]
    if step_grads:
        return scores, _step_rows(names, per_step), step_losses
    grads = [
        {"layer": name, "mean_abs_grad": mean / len(starts), "max_abs_grad": largest}
        for name, mean, largest in zip(names, grad_means, grad_maxes, strict=True)
    ]
    return scores, grads, step_losses


def _fetch(
    sums: list[torch.Tensor],
    grad_sums: torch.Tensor,
    grad_max: torch.Tensor,
    losses: list[torch.Tensor],
    step_grads: list[torch.Tensor],
) -> tuple[list[float], list[float], list[float], list[float], list[float]]:
    """The epoch's one wait on the device: every sum and gradient statistic in one transfer
    (float64 holds counts exactly and float32 values unchanged). Returns the sums, the gradient
    means and maxima, each step's loss and the per-step gradient values, as Python floats."""
    pieces = [*(value.double().reshape(1) for value in sums), grad_sums.double(), grad_max.double()]
    pieces.append(torch.stack(losses).double().reshape(-1))
    if step_grads:
        pieces.append(torch.stack(step_grads).double().reshape(-1))
    flat = torch.cat(pieces).tolist()
    bounds = list(accumulate([len(sums), len(grad_sums), len(grad_max), len(losses)], initial=0))
    values, means, maxes, step_losses = (flat[a:b] for a, b in zip(bounds, bounds[1:], strict=False))
    return values, means, maxes, step_losses, flat[bounds[-1] :]


def _backward(
    loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None
) -> None:
    """Gradients of `loss`; under fp16 scaled, then unscaled in place, so that the gradient
    statistics and the optimizer see the true gradients."""
    if scaler is None:
        loss.backward()
    else:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)


def _optimizer_step(optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None) -> None:
    """One optimizer step; under fp16 through the scaler, which skips an overflowing step."""
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
        scaler.update()


def _step_rows(names: list[str], values: list[float]) -> list[dict]:
    """Gradient rows per step from (steps, 2, weights) values: each step's means, then maxes."""
    w = len(names)
    return [
        {"step": i + 1, "layer": name, "mean_abs_grad": values[at + j], "max_abs_grad": values[at + w + j]}
        for i, at in enumerate(range(0, len(values), 2 * w))
        for j, name in enumerate(names)
    ]


def _track_best(result: FitResult, row: dict, stopping: dict, model: nn.Module, log) -> None:
    """Early stopping (S7's rule, cvrepro.evaluate.early_stopping): keep the best epoch's weights;
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


def _resumed_extras(result: FitResult, method: Method) -> dict:
    """What a resume state keeps beside the training's own: the results so far and the method's
    state (an EMA teacher, a queue, a probe)."""
    return {"result": vars(result), "method_state": method.state.state_dict() if method.state else None}


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
    """Train `model` on `data` with `method` as the recipe says (its keys epochs, batch_size,
    optimizer, schedule and seed); stop early as `stopping` says (a run's early_stopping);
    record mean and max |gradient| per weight and "epoch" or "step", as `watch_grads` says (a run's
    grad_flow and grad_flow_per); resumable from `resume` after any epoch."""
    device = data.images.device
    prepare_device(device)
    epochs, batch_size = recipe["epochs"], recipe["batch_size"]
    generator = torch.Generator(device=device)
    generator.manual_seed(recipe["seed"])
    steps = len(batch_starts(len(data), batch_size))
    if epoch_images(len(data), batch_size, None) < len(data):
        log("the last batch of one image is left out of every epoch (BatchNorm needs two)")
    scaler = grad_scaler(device)
    # Fused optimizers skip an overflowing fp16 step on the GPU; others make the scaler read a flag.
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(
        trained, recipe["optimizer"], fused=scaler is not None and device.type == "cuda"
    )
    scheduler = make_scheduler(optimizer, recipe["schedule"], epochs, steps)
    watched = watched_parameters(model) if watch_grads else []
    result, first_epoch = FitResult(), 1
    if (state := load_state(resume)) is not None:
        trainer = (model, optimizer, scheduler, generator, scaler)
        first_epoch = restore_training(state, *trainer, reseed=recipe["seed"], log=log)
        result = FitResult(**state["result"])
        if method.state is not None:
            method.state.load_state_dict(state["method_state"])
    started = saved = time.perf_counter()
    for epoch in range(first_epoch, epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        start = _clock(device)
        # A recipe that counts steps (S7's 3,000 iterations) ends inside its last epoch.
        batches = recipe["steps"] - (epochs - 1) * steps if recipe["steps"] and epoch == epochs else None
        scores, grads, step_losses = train_one_epoch(
            model,
            data,
            method,
            optimizer,
            scheduler,
            generator,
            batch_size,
            watched,
            frozen_bn_mode(recipe),
            recipe["shuffle"],
            batches,
            watch_grads == "step",
            scaler,
        )
        seconds = _clock(device) - start
        row = {"epoch": epoch, "lr": lr, **scores, "epoch_seconds": seconds}
        row["images_per_s"] = method.views * epoch_images(len(data), batch_size, batches) / seconds
        row.update(method.after_epoch(generator))
        row["steps"] = batches or steps
        result.record(row, step_losses, grads)
        elapsed = (time.perf_counter() - started) / (epoch - first_epoch + 1)
        log(_epoch_line(row, epochs, elapsed * (epochs - epoch)))
        if stopping is not None:
            _track_best(result, row, stopping, model, log)
        last = epoch == epochs or result.stopped_early
        if resume is not None and (last or time.perf_counter() - saved >= resume.every_s):
            trainer = (model, optimizer, scheduler, generator, scaler)
            save_state(resume, training_state(epoch, *trainer, **_resumed_extras(result, method)))
            saved = time.perf_counter()
        if result.stopped_early:
            break
    if result.best_weights is not None and stopping["restore_best"]:
        model.load_state_dict(result.best_weights)
        log(f"restored the weights of epoch {result.best_epoch} ({stopping['metric']} {result.best:.4f})")
    return result


# --- the optimizer and its learning-rate schedule -------------------------------------------------


OPTIMIZERS = ("sgd", "adam", "adamw")


def make_optimizer(params, spec: dict, fused: bool = False) -> torch.optim.Optimizer:
    """The optimizer `spec` names; `fused`: torch's fused CUDA kernels (fp16 training on a GPU),
    otherwise torch's default implementation, as before."""
    name = spec["name"]
    options = {"fused": True} if fused else {}
    if name == "sgd":
        return torch.optim.SGD(
            params,
            lr=spec["lr"],
            momentum=spec["momentum"],
            nesterov=spec["nesterov"] and spec["momentum"] > 0,
            weight_decay=spec["weight_decay"],
            **options,
        )
    if name in ("adam", "adamw"):
        optimizer = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return optimizer(
            params, lr=spec["lr"], betas=tuple(spec["betas"]), weight_decay=spec["weight_decay"], **options
        )
    raise ValueError(f"unknown optimizer {name!r}; choose from {list(OPTIMIZERS)}")


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
