"""Supervised training: its method for the one loop (cvrepro.train.engine.fit) and the loss of a
batch. The losses are plugins, one module each in cvrepro.train.losses (a run's loss.name):
cross-entropy, plus a triplet or center-loss term on the penultimate features
(cvrepro.train.metric_losses). The method is the loss of one batch and the numbers its epochs
report, in the style of solo-learn's per-method pieces.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from cvrepro.data.augment_presets import eval_resize
from cvrepro.data.tensors import TensorSet, augmented
from cvrepro.nets.device import autocast, compile_setting, maybe_compile, model_input
from cvrepro.nets.inference import evaluate
from cvrepro.train.engine import Method
from cvrepro.train.losses import LOSSES


def combined_loss(
    logits: torch.Tensor,
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    spec: dict,
    state: nn.Module | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The configured training loss (LOSSES[spec["name"]], cvrepro.train.losses) and its parts;
    `labels`: class indices, or (N, classes) target probabilities (MixUp / CutMix, cross-entropy
    alone); `state`: what the loss's `state` built (center loss's centres)."""
    if spec["name"] not in LOSSES:
        raise ValueError(f"unknown loss {spec['name']!r}; choose from {list(LOSSES)}")
    loss = LOSSES[spec["name"]]
    ce = F.cross_entropy(logits, labels, label_smoothing=spec["label_smoothing"])
    if loss.term is None:
        return ce, {"ce": ce.detach()}
    if loss.state is not None and state is None:
        raise ValueError(f"loss {spec['name']} needs its learned state ({loss.part})")
    term = loss.term(embeddings, labels, spec, state)
    return ce + spec["weight"] * term, {"ce": ce.detach(), loss.part: term.detach()}


def batch_mixing(spec: dict, classes: int) -> Callable[[torch.Tensor, torch.Tensor], tuple] | None:
    """torchvision's MixUp and CutMix of a (normalised, augmented) device batch as `spec` (a run's
    loss) asks: (images, labels) -> (mixed images, mixed one-hot targets over `classes`); with
    both, one of the two per batch at even odds, torchvision's reference recipe (RandomChoice).
    None when both alphas are 0. Their Beta and box draws come from torch's global CPU generator,
    which the job seeds with the run's seed and the resume state saves, so a resumed run mixes as
    the uninterrupted one; mixing is linear, so mixing normalised images is normalising mixed ones.
    """
    from torchvision.transforms import v2  # torchvision only where a run mixes

    mixes = [
        make(alpha=alpha, num_classes=classes)
        for make, alpha in ((v2.MixUp, spec["mixup_alpha"]), (v2.CutMix, spec["cutmix_alpha"]))
        if alpha > 0
    ]
    if not mixes:
        return None
    return mixes[0] if len(mixes) == 1 else v2.RandomChoice(mixes)


def val_augmentation(recipe: dict, generator: torch.Generator) -> tuple[str | dict, torch.Generator] | None:
    """With `val_augment`, the training augmentation and a generator for this validation's draw
    (seeded from the training generator: a fresh draw every epoch, the same after a resume)."""
    if not recipe["val_augment"]:
        return None
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
    return recipe["augment"], torch.Generator(device=generator.device).manual_seed(seed)


def features_and_logits(model: nn.Module) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """The supervised forward pass as one function of x, the unit that torch.compile compiles."""

    def forward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embeddings = model.features(x)
        return embeddings, model.fc(embeddings)

    return forward


def supervised(
    model: nn.Module,
    recipe: dict,
    mean: list[float],
    std: list[float],
    num_classes: int,
    val: TensorSet | None,
) -> Method:
    """Cross-entropy, plus a triplet or center-loss term on the penultimate features as
    `recipe["loss"]` says (or on MixUp / CutMix targets); validation after every epoch when `val`
    is given. With mixing, train_acc counts a prediction of the batch's dominant mixed class."""
    spec, augment = recipe["loss"], recipe["augment"]
    mix = batch_mixing(spec, recipe["model"]["head"]["outputs"] or num_classes)
    make_state = LOSSES[spec["name"]].state
    state = None if make_state is None else make_state(spec, num_classes, model.num_features)
    if state is not None:
        state = state.to(next(model.parameters()).device)
    # Compiled only when CVREPRO_COMPILE asks (see cvrepro.nets.device); eager is bit-for-bit as before.
    forward = maybe_compile(features_and_logits(model), compile_setting())

    def step(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        x = augmented(images, augment, mean, std, generator)
        targets = labels
        if mix is not None:
            x, targets = mix(x, labels)
            labels = targets.argmax(1)
        with autocast(images.device):
            embeddings, logits = forward(model_input(x, model))
        # The losses in float32, outside autocast: a cosine distance inside it would be a bf16 matmul.
        loss, _ = combined_loss(logits.float(), embeddings.float(), targets, spec, state)
        return loss, {"loss": loss.detach() * len(labels), "correct": (logits.argmax(1) == labels).sum()}

    def summarize(sums: dict[str, float], images: int, steps: int) -> dict[str, float]:
        return {"train_loss": sums["loss"] / images, "train_acc": sums["correct"] / images}

    def validate(generator: torch.Generator) -> dict[str, float]:
        if val is None:
            return {}
        scores = evaluate(
            model,
            val,
            recipe["eval_batch_size"],
            mean,
            std,
            eval_resize(augment),
            val_augmentation(recipe, generator),
        )
        return {"val_loss": scores["loss"], "val_acc": scores["acc"]}

    return Method(step, summarize, validate, state)
