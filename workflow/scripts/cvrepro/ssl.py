"""Pretraining without the task's labels (SimCLR) and with a metric-learning loss (triplet).

Components in the style of lightly/solo-learn: the projection head, one epoch per method, and a
linear probe refitted on frozen features after every epoch; the losses live in losses.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from cvrepro.augment import augment_batch
from cvrepro.compile import compile_setting, maybe_compile
from cvrepro.data import TensorSet, normalize, standardize
from cvrepro.freezing import set_train_mode
from cvrepro.losses import contrastive_accuracy, nt_xent_loss, triplet_margin_loss
from cvrepro.precision import autocast
from cvrepro.resume import load_state, restore_training, save_state, training_state
from cvrepro.training import make_optimizer, make_scheduler, model_input, prepare_device

METHODS = ("simclr", "triplet")


class ProjectionHead(nn.Sequential):
    """SimCLR's g(.): linear, BN, ReLU, linear; the contrastive loss sees its output."""

    def __init__(self, in_features: int, hidden: int = 512, dim: int = 128) -> None:
        super().__init__(
            nn.Linear(in_features, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, dim),
        )


class Pretrainer(nn.Module):
    """The encoder plus what only pretraining needs (the projection head), saved and resumed together."""

    def __init__(self, encoder: nn.Module, projector: nn.Module | None) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = projector if projector is not None else nn.Identity()


def projected(model: Pretrainer) -> Callable[[torch.Tensor], torch.Tensor]:
    """SimCLR's forward pass x -> z = g(f(x)) as a plain function: the unit torch.compile compiles."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        return model.projector(model.encoder.features(x))

    return forward


def _views(images: torch.Tensor, augment, mean, std, generator) -> torch.Tensor:
    x = images.float() / 255
    return standardize(augment_batch(x, augment, generator), mean, std)


def simclr_one_epoch(
    model: Pretrainer,
    data: TensorSet,
    optimizer,
    scheduler,
    hp: dict,
    mean,
    std,
    generator,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict:
    """One epoch of NT-Xent; `forward` (x -> z) defaults to `projected` in eager mode."""
    set_train_mode(model)
    forward = forward or projected(model)
    device = data.images.device
    order = torch.randperm(len(data), device=device, generator=generator)
    total_loss = torch.zeros((), device=device)
    total_acc = torch.zeros((), device=device)
    steps = 0
    for start in range(0, len(data) - 1, hp["batch_size"]):
        batch = order[start : start + hp["batch_size"]]
        if len(batch) < 2:
            break  # NT-Xent needs at least two images (and BN in the head more than one)
        images = data.images[batch]
        v1 = _views(images, hp["augment"], mean, std, generator)
        v2 = _views(images, hp["augment"], mean, std, generator)
        with autocast(device):
            views = torch.cat([v1, v2])
            z = forward(model_input(views)).float()
        z1, z2 = z.chunk(2)
        loss = nt_xent_loss(z1, z2, hp["temperature"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total_loss += loss.detach()
        total_acc += contrastive_accuracy(z1.detach(), z2.detach())
        steps += 1
    # The epoch's one wait on the device.
    loss_sum, acc_sum = torch.stack([total_loss.double(), total_acc.double()]).tolist()
    return {"train_loss": loss_sum / steps, "contrastive_acc": acc_sum / steps}


def triplet_one_epoch(
    model: Pretrainer,
    data: TensorSet,
    optimizer,
    scheduler,
    hp: dict,
    mean,
    std,
    generator,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict:
    """One epoch of the triplet loss with in-batch mining; `forward` (x -> f(x)) defaults to the encoder's features."""
    set_train_mode(model)
    forward = forward or model.encoder.features
    device = data.images.device
    order = torch.randperm(len(data), device=device, generator=generator)
    total_loss = torch.zeros((), device=device)
    steps = 0
    spec = hp["triplet"]
    for start in range(0, len(data), hp["batch_size"]):
        batch = order[start : start + hp["batch_size"]]
        x = _views(data.images[batch], hp["augment"], mean, std, generator)
        with autocast(device):
            embeddings = forward(model_input(x)).float()
        loss = triplet_margin_loss(
            embeddings, data.labels[batch], spec["margin"], spec["distance"], spec["mining"], generator
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total_loss += loss.detach()
        steps += 1
    return {"train_loss": total_loss.item() / steps}


def layer_output(model: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    """The output of `layer` for input x (penultimate: model.features), average-pooled if spatial."""
    if layer == "penultimate":
        return model.features(x)
    modules = dict(model.named_modules())
    if layer not in modules or layer == "":
        raise ValueError(
            f"no layer {layer!r}; choose penultimate or one of {[n for n, _ in model.named_children()]}"
        )
    captured = []
    handle = modules[layer].register_forward_hook(lambda module, inputs, output: captured.append(output))
    try:
        model(x)
    finally:
        handle.remove()
    out = captured[0]
    return out.mean(dim=(2, 3)) if out.ndim == 4 else out.flatten(1)


@torch.no_grad()
def extract_features(
    encoder: nn.Module,
    data: TensorSet,
    mean,
    std,
    batch_size: int = 512,
    size: int | None = None,
    layer: str = "penultimate",
) -> np.ndarray:
    """Features (float32, N x D) of every image at `layer`, in eval mode."""
    encoder.eval()
    device = data.images.device
    prepare_device(device)
    out = []
    for start in range(0, len(data), batch_size):
        x = normalize(data.images[start : start + batch_size], mean, std, size)
        with autocast(device):
            out.append(layer_output(encoder, model_input(x), layer).float())
    # Kept on the device until the end: a copy to the host per batch would wait for each batch.
    return torch.cat(out).cpu().numpy()


def linear_probe_accuracy(features: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """Accuracy of a logistic-regression probe fitted on 80% of the set, scored on the other 20%."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    cut = int(0.8 * len(order))
    mean, std = features[order[:cut]].mean(0), features[order[:cut]].std(0) + 1e-6
    probe = LogisticRegression(max_iter=500)
    probe.fit((features[order[:cut]] - mean) / std, labels[order[:cut]])
    return float(probe.score((features[order[cut:]] - mean) / std, labels[order[cut:]]))


def pretrain(
    model: Pretrainer,
    data: TensorSet,
    hp: dict,
    mean: list[float],
    std: list[float],
    probe_data: TensorSet | None = None,
    resume_path=None,
    run_hash: str = "",
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Pretrain for hp["epochs"]; return one history row per epoch. Resumable like `fit`."""
    if hp["method"] not in METHODS:
        raise ValueError(f"unknown pretraining method {hp['method']!r}; choose from {list(METHODS)}")
    one_epoch = simclr_one_epoch if hp["method"] == "simclr" else triplet_one_epoch
    device = data.images.device
    prepare_device(device)
    # Compiled only when CVREPRO_COMPILE asks (see cvrepro.compile).
    forward = maybe_compile(
        projected(model) if hp["method"] == "simclr" else model.encoder.features, compile_setting()
    )
    generator = torch.Generator(device=device)
    generator.manual_seed(hp["seed"])
    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], hp["optimizer"])
    steps_per_epoch = max(1, len(data) // hp["batch_size"])
    scheduler = make_scheduler(optimizer, hp["schedule"], hp["epochs"], steps_per_epoch)
    history, first_epoch = [], 1
    state = load_state(resume_path, run_hash)
    if state is not None:
        first_epoch = restore_training(state, model, optimizer, scheduler, generator)
        history = state["history"]
    for epoch in range(first_epoch, hp["epochs"] + 1):
        start = time.perf_counter()
        row = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"]}
        row.update(one_epoch(model, data, optimizer, scheduler, hp, mean, std, generator, forward))
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        views = 2 if hp["method"] == "simclr" else 1
        row.update({"epoch_seconds": seconds, "images_per_s": views * len(data) / seconds})
        if not np.isfinite(row["train_loss"]):
            raise FloatingPointError(f"pretraining loss became {row['train_loss']}; lower the learning rate")
        if probe_data is not None:
            features = extract_features(model.encoder, probe_data, mean, std)
            row["probe_acc"] = linear_probe_accuracy(features, probe_data.labels.cpu().numpy(), hp["seed"])
        history.append(row)
        log("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
        if resume_path is not None:
            save_state(
                resume_path,
                training_state(run_hash, epoch, model, optimizer, scheduler, generator, history=history),
            )
    return history
