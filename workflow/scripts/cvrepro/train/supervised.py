"""Supervised training: its losses and its method for the one loop (cvrepro.train.engine.fit).

The losses are plain functions of tensors, plus the one stateful piece (center loss's centres),
held by the registry SUPERVISED (a run's loss.name): cross-entropy, plus a triplet or center-loss
term on the penultimate features. The triplet loss is also what triplet pretraining minimises
(cvrepro.train.pretraining). The method is the loss of one batch and the numbers its epochs
report, in the style of solo-learn's per-method pieces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cvrepro.data.augment_presets import eval_resize
from cvrepro.data.tensors import TensorSet, augmented
from cvrepro.nets.device import autocast, compile_setting, maybe_compile, model_input
from cvrepro.nets.inference import evaluate
from cvrepro.train.engine import Method


def pairwise_distances(x: torch.Tensor, distance: str) -> torch.Tensor:
    if distance == "euclidean":
        return torch.cdist(x, x).clamp_min(0)
    if distance == "cosine":
        x = F.normalize(x, dim=1)
        return 1 - x @ x.T
    raise ValueError(f"unknown distance {distance!r}; choose from ['euclidean', 'cosine']")


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of `values` where `mask` holds, 0 where it never does: values[mask].mean() without
    its host waits (boolean indexing counts the selected entries on the host; a branch on
    mask.any() reads the mask there). Where the mask holds everywhere, the same sum of the same
    numbers divided by the same count, so the float32 result is bit for bit values.mean()'s.
    The sum keeps the graph when nothing is selected."""
    return torch.where(mask, values, 0).sum() / mask.sum().clamp_min(1)


def triplet_margin_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    margin: float,
    distance: str,
    mining: str,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Triplet loss max(d(a,p) - d(a,n) + margin, 0) over triplets mined inside the batch.

    batch_all: mean over every valid triplet whose loss is positive (Hermans et al., 2017).
    batch_hard: per anchor, its farthest positive and nearest negative.
    semi_hard: per anchor and positive, the nearest negative farther than the positive
    (FaceNet); the hardest negative when none is.
    random: per anchor, one random positive and one random negative.
    A batch without a valid triplet gives 0 (with a graph). No branch depends on the data and no
    shape does either, so the loss never makes the host wait for the GPU; the distances are float32
    (the caller computes them outside autocast; TF32 is off, cvrepro.nets.device).
    """
    d = pairwise_distances(embeddings, distance)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positive = same & ~eye
    negative = ~same
    if mining == "batch_all":
        losses = (d[:, :, None] - d[:, None, :] + margin).clamp_min(0)
        valid = positive[:, :, None] & negative[:, None, :]
        return masked_mean(losses, valid & (losses > 1e-16))
    if mining == "batch_hard":
        has = positive.any(1) & negative.any(1)
        hardest_pos = torch.where(positive, d, torch.full_like(d, -float("inf"))).amax(1)
        hardest_neg = torch.where(negative, d, torch.full_like(d, float("inf"))).amin(1)
        return masked_mean((hardest_pos - hardest_neg + margin).clamp_min(0), has)
    if mining == "semi_hard":
        # Every (anchor, positive) pair at once: (N, N) pairs against (N, N, N) negatives, where the
        # pairs that are not positives are masked out (the pair list itself would need nonzero).
        d_ap = d  # (anchor, positive)
        d_an = d[:, None, :]  # (anchor, 1, negative)
        neg = negative[:, None, :]
        semi = neg & (d_an > d_ap[:, :, None])
        inf = torch.full_like(d, float("inf"))[:, None, :]
        semi_min = torch.where(semi, d_an, inf).amin(2)
        hardest = torch.where(negative, d, inf[:, 0]).amin(1)[:, None]
        chosen = torch.where(semi.any(2), semi_min, hardest)
        ok = positive & negative.any(1)[:, None]
        return masked_mean((d_ap - chosen + margin).clamp_min(0), ok)
    if mining == "random":
        has = positive.any(1) & negative.any(1)
        scores = torch.rand(d.shape, device=d.device, generator=generator)
        pos = torch.where(positive, scores, torch.full_like(scores, -1.0)).argmax(1)
        neg = torch.where(negative, scores, torch.full_like(scores, -1.0)).argmax(1)
        rows = torch.arange(len(labels), device=d.device)
        return masked_mean((d[rows, pos] - d[rows, neg] + margin).clamp_min(0), has)
    raise ValueError(
        f"unknown mining {mining!r}; choose from ['batch_all', 'batch_hard', 'semi_hard', 'random']"
    )


class CenterLoss(nn.Module):
    """Center loss (Wen et al., 2016): 0.5 * mean ||x_i - c_{y_i}||^2.

    The centres are a buffer moved by their own rule, c_j -= alpha * mean_{i: y_i=j}(c_j - x_i),
    once per training batch, not by the optimizer.
    """

    def __init__(self, num_classes: int, feature_dim: int, alpha: float) -> None:
        super().__init__()
        self.alpha = alpha
        self.register_buffer("centers", torch.zeros(num_classes, feature_dim))

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        centers = self.centers[labels]
        loss = 0.5 * ((features - centers) ** 2).sum(1).mean()
        if self.training:
            self.update(features.detach(), labels)
        return loss

    @torch.no_grad()
    def update(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        diff = self.centers[labels] - features.to(self.centers.dtype)
        sums = torch.zeros_like(self.centers).index_add_(0, labels, diff)
        counts = torch.zeros(len(self.centers), device=labels.device).index_add_(
            0, labels, torch.ones_like(labels, dtype=torch.float)
        )
        self.centers -= self.alpha * sums / (1 + counts)[:, None]


@dataclass(frozen=True)
class SupervisedLoss:
    """Cross-entropy plus, when `term` is given, weight x a term on the penultimate features
    (embeddings): term(embeddings, labels, spec, state) -> scalar, named `part` in the parts.
    `state(spec, classes, features)` builds what the term learns beside the model (center loss's
    centres), which training moves to the device and resuming restores."""

    term: Callable[[torch.Tensor, torch.Tensor, dict, nn.Module | None], torch.Tensor] | None = None
    part: str | None = None
    state: Callable[[dict, int, int], nn.Module] | None = None


# The schema's loss.name enum (tests/test_losses.py keeps the two equal).
SUPERVISED: dict[str, SupervisedLoss] = {
    "ce": SupervisedLoss(),
    "ce_triplet": SupervisedLoss(
        lambda embeddings, labels, spec, _: triplet_margin_loss(
            embeddings, labels, spec["margin"], spec["distance"], spec["mining"]
        ),
        "triplet",
    ),
    "ce_center": SupervisedLoss(
        lambda embeddings, labels, spec, center: center(embeddings, labels),
        "center",
        lambda spec, classes, features: CenterLoss(classes, features, spec["alpha"]),
    ),
}


def combined_loss(
    logits: torch.Tensor,
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    spec: dict,
    state: nn.Module | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The configured training loss (SUPERVISED[spec["name"]]) and its parts; `labels`: class
    indices, or (N, classes) target probabilities (MixUp / CutMix, cross-entropy alone); `state`:
    what the loss's `state` built (center loss's centres)."""
    if spec["name"] not in SUPERVISED:
        raise ValueError(f"unknown loss {spec['name']!r}; choose from {list(SUPERVISED)}")
    loss = SUPERVISED[spec["name"]]
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
    make_state = SUPERVISED[spec["name"]].state
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
