"""The training loop: one flat pass per epoch over device-resident data.

Flat functions in the style of torchvision's references: `make_optimizer`, `make_scheduler`,
`train_one_epoch`, `evaluate`, `fit`. Loss and accuracy are accumulated on the device and read
once per epoch, so the loop never waits on the host.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from cvrepro.augment import augment_batch
from cvrepro.data import TensorSet, normalize

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "constant")


def resolve_device(name: str) -> torch.device:
    if name == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if name == "cuda":
        raise RuntimeError("device: cuda was requested but no CUDA GPU is visible to this job")
    if name != "auto":
        raise ValueError(f"unknown device {name!r}; choose from ['auto', 'cuda', 'cpu']")
    return torch.device("cpu")


def make_optimizer(params, spec: dict) -> torch.optim.Optimizer:
    name = spec["name"]
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=spec["lr"], momentum=spec["momentum"], nesterov=spec["nesterov"] and spec["momentum"] > 0,
            weight_decay=spec["weight_decay"],
        )
    if name == "adam":
        return torch.optim.Adam(params, lr=spec["lr"], betas=tuple(spec["betas"]), weight_decay=spec["weight_decay"])
    if name == "adamw":
        return torch.optim.AdamW(params, lr=spec["lr"], betas=tuple(spec["betas"]), weight_decay=spec["weight_decay"])
    raise ValueError(f"unknown optimizer {name!r}; choose from {list(OPTIMIZERS)}")


def make_scheduler(optimizer: torch.optim.Optimizer, spec: dict, epochs: int, steps_per_epoch: int):
    """A per-iteration schedule; cosine's period is given in epochs as in the seed reports."""
    name = spec["name"]
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    if name == "cosine":
        period = (spec.get("t_max") or epochs) * steps_per_epoch
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, period) / period)))
    raise ValueError(f"unknown schedule {name!r}; choose from {list(SCHEDULES)}")


def autocast(device: torch.device):
    """bf16 autocast on CUDA (no loss scaling needed); plain fp32 on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_one_epoch(
    model: nn.Module,
    data: TensorSet,
    optimizer: torch.optim.Optimizer,
    scheduler,
    batch_size: int,
    augment: str,
    mean: list[float],
    std: list[float],
    generator: torch.Generator,
) -> dict[str, float]:
    model.train()
    device = data.images.device
    order = torch.randperm(len(data), device=device, generator=generator)
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    for start in range(0, len(data), batch_size):
        batch = order[start : start + batch_size]
        x = augment_batch(normalize(data.images[batch], mean, std), augment, generator)
        y = data.labels[batch]
        with autocast(device):
            logits = model(x.contiguous(memory_format=memory_format))
            loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total_loss += loss.detach() * len(batch)
        correct += (logits.argmax(1) == y).sum()
    loss_value = total_loss.item() / len(data)
    if not math.isfinite(loss_value):
        raise FloatingPointError(f"training loss became {loss_value}; lower the learning rate")
    return {"train_loss": loss_value, "train_acc": correct.item() / len(data)}


@torch.no_grad()
def predict(model: nn.Module, data: TensorSet, batch_size: int, mean: list[float], std: list[float]) -> torch.Tensor:
    """Logits (float32, on the data's device) for every image, in large eval-mode batches."""
    model.eval()
    device = data.images.device
    outputs = []
    for start in range(0, len(data), batch_size):
        x = normalize(data.images[start : start + batch_size], mean, std)
        with autocast(device):
            outputs.append(model(x).float())
    return torch.cat(outputs)


def evaluate(model: nn.Module, data: TensorSet, batch_size: int, mean: list[float], std: list[float]) -> dict[str, float]:
    logits = predict(model, data, batch_size, mean, std)
    return {
        "loss": F.cross_entropy(logits, data.labels).item(),
        "acc": (logits.argmax(1) == data.labels).float().mean().item(),
    }


def fit(
    model: nn.Module,
    train: TensorSet,
    val: TensorSet | None,
    epochs: int,
    batch_size: int,
    eval_batch_size: int,
    optimizer_spec: dict,
    schedule_spec: dict,
    augment: str,
    mean: list[float],
    std: list[float],
    seed: int,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Train for `epochs`; return one history row per epoch."""
    device = train.images.device
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(trainable, optimizer_spec)
    steps_per_epoch = math.ceil(len(train) / batch_size)
    scheduler = make_scheduler(optimizer, schedule_spec, epochs, steps_per_epoch)
    history = []
    for epoch in range(1, epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        row = {"epoch": epoch, "lr": lr}
        row.update(train_one_epoch(model, train, optimizer, scheduler, batch_size, augment, mean, std, generator))
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        row.update({"epoch_seconds": seconds, "images_per_s": len(train) / seconds})
        if val is not None:
            scores = evaluate(model, val, eval_batch_size, mean, std)
            row.update({"val_loss": scores["loss"], "val_acc": scores["acc"]})
        history.append(row)
        log(
            f"epoch {epoch}/{epochs}  loss {row['train_loss']:.4f}  acc {row['train_acc']:.4f}"
            + (f"  val_acc {row['val_acc']:.4f}" if val is not None else "")
            + f"  lr {lr:.3g}  {seconds:.1f}s  {row['images_per_s']:.0f} img/s"
        )
    return history
