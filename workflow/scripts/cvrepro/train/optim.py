"""What moves the weights in the one loop (cvrepro.train.engine): the optimizer a recipe names,
its per-step learning-rate schedule (torch's LambdaLR of the closed form in cvrepro.train.batches)
and, under fp16, the GradScaler, held together as `Updates`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cvrepro.nets.device import grad_scaler
from cvrepro.train.batches import lr_factor, schedule_steps

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


@dataclass
class Updates:
    """What moves the weights: the optimizer, its per-step schedule, fp16's GradScaler (None in
    other precisions) and the training's total optimizer steps (for a method's after-step schedule)."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler | None
    total: int

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def backward(self, loss: torch.Tensor) -> None:
        """Fresh gradients of `loss`; under fp16 scaled, then unscaled in place, so that the
        gradient statistics and the optimizer see the true gradients."""
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)

    def step(self) -> int:
        """One optimizer step (under fp16 through the scaler, which skips an overflowing step) and
        one schedule step; returns the 0-based index of the step just taken in the training."""
        if self.scaler is None:
            self.optimizer.step()
        else:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.scheduler.step()
        return self.scheduler.last_epoch - 1


def make_updates(model: nn.Module, recipe: dict, steps: int, device: torch.device) -> Updates:
    """The optimizer of the model's trainable weights and the schedule the recipe names, over its
    epochs of `steps` steps. Fused optimizers skip an overflowing fp16 step on the GPU; others make
    the scaler read a flag."""
    scaler = grad_scaler(device)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(
        trained, recipe["optimizer"], fused=scaler is not None and device.type == "cuda"
    )
    scheduler = make_scheduler(optimizer, recipe["schedule"], recipe["epochs"], steps)
    return Updates(optimizer, scheduler, scaler, recipe["steps"] or recipe["epochs"] * steps)
