"""S6's linear probe trained alongside SimCLR (the Keras SimCLR example's `linear_probe`): one
Adam step of a linear head per contrastive step, on a labelled batch, over the encoder's
detached features; train accuracy runs over the epoch's batches, validation after the epoch."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from cvrepro.data.tensors import TensorSet, augmented
from cvrepro.nets.device import model_input
from cvrepro.nets.inference import extract_features


class ProbeHead(nn.Module):
    """The probe's Dense(classes) and its own Adam, saved and resumed together (Method.state)."""

    def __init__(self, features: int, classes: int, lr: float, device: torch.device) -> None:
        super().__init__()
        self.linear = nn.Linear(features, classes, device=device)
        # Keras' Dense initialisation: Glorot-uniform weights, zero bias.
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.optimizer = torch.optim.Adam(self.linear.parameters(), lr=lr)

    def state_dict(self, *args, **kwargs) -> dict:
        return {"linear": self.linear.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict, strict: bool = True, assign: bool = False):
        self.linear.load_state_dict(state["linear"])
        self.optimizer.load_state_dict(state["optimizer"])


class OnlineProbe(NamedTuple):
    """head (its state resumes with the run); batch(generator) -> this step's (uint8 images,
    labels); train(images, labels, generator) -> device sums; validate() -> scores."""

    head: ProbeHead
    batch: Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]]
    train: Callable[[torch.Tensor, torch.Tensor, torch.Generator], dict]
    validate: Callable[[], dict]


def labelled_batch_size(labelled: int, steps: int) -> int:
    """The labelled set zipped with the contrastive batches: each step takes len // steps images
    (the Keras example's labeled_dataset_size // steps_per_epoch), at least one."""
    return max(1, labelled // steps)


def online_probe(
    encoder: nn.Module,
    labelled: TensorSet,
    val: TensorSet | None,
    steps: int,
    recipe: dict,
    mean: list[float],
    std: list[float],
) -> OnlineProbe:
    """The probe of `labelled`'s images; see OnlineProbe. `steps`: contrastive steps per epoch;
    every epoch visits a fresh seeded permutation of `labelled` in step-sized slices."""
    device = labelled.images.device
    head = ProbeHead(encoder.num_features, len(labelled.classes), recipe["probe_lr"], device)
    size = labelled_batch_size(len(labelled), steps)
    augment = recipe["probe_augment"]
    state = {"step": 0, "order": None}
    # Every step's labelled batch has `size` images; the count is made once, not once per step
    # (a tensor built from a Python value on the GPU is a copy the host waits for).
    seen = torch.tensor(size, device=device)

    def batch(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        k = state["step"] % steps
        if k == 0:
            repeats = -(-steps * size // len(labelled))  # enough permutations for the epoch
            state["order"] = torch.cat(
                [torch.randperm(len(labelled), device=device, generator=generator) for _ in range(repeats)]
            )
        state["step"] += 1
        pick = state["order"][k * size : (k + 1) * size]
        return labelled.images[pick], labelled.labels[pick]

    def train(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> dict:
        x = augmented(images, augment, mean, std, generator)
        logits = head.linear(frozen_features(encoder, x))
        loss = F.cross_entropy(logits, labels)
        head.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        head.optimizer.step()
        return {
            "probe_loss": loss.detach() * len(labels),
            "probe_correct": (logits.argmax(1) == labels).sum(),
            "probe_seen": seen if len(labels) == size else torch.tensor(len(labels), device=device),
        }

    def validate() -> dict:
        return {} if val is None else validation(encoder, head, val, mean, std)

    return OnlineProbe(head, batch, train, validate)


def frozen_features(encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Keras' encoder(..., training=False): eval mode, and no gradient reaches the encoder."""
    was_training = encoder.training
    encoder.eval()
    with torch.no_grad():
        out = encoder.features(model_input(x, encoder)).float()
    encoder.train(was_training)
    return out


@torch.no_grad()
def validation(
    encoder: nn.Module, head: ProbeHead, val: TensorSet, mean: list[float], std: list[float]
) -> dict:
    """The probe's loss and accuracy on `val`'s features."""
    feats = torch.from_numpy(extract_features(encoder, val, mean, std, None, "penultimate")).to(
        val.images.device
    )
    logits = head.linear(feats)
    loss, acc = torch.stack(
        [F.cross_entropy(logits, val.labels), (logits.argmax(1) == val.labels).float().mean()]
    ).tolist()
    return {"probe_val_loss": loss, "probe_val_acc": acc}


def probe_scores(sums: dict[str, float]) -> dict[str, float]:
    """The epoch's running probe train loss and accuracy (Keras' metrics over its batches)."""
    return {
        "probe_train_loss": sums["probe_loss"] / sums["probe_seen"],
        "probe_train_acc": sums["probe_correct"] / sums["probe_seen"],
    }
