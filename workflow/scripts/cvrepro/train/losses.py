"""Losses as plain functions of tensors, plus the one stateful piece (center loss's centres), and
the two registries training reads: SUPERVISED (loss.name of runs) and CONTRASTIVE (of pretraining)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def pairwise_distances(x: torch.Tensor, distance: str) -> torch.Tensor:
    if distance == "euclidean":
        return torch.cdist(x, x).clamp_min(0)
    if distance == "cosine":
        x = F.normalize(x, dim=1)
        return 1 - x @ x.T
    raise ValueError(f"unknown distance {distance!r}; choose from ['euclidean', 'cosine']")


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
    """
    d = pairwise_distances(embeddings, distance)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positive = same & ~eye
    negative = ~same
    zero = embeddings.sum() * 0  # keeps the graph when no triplet exists
    if mining == "batch_all":
        losses = (d[:, :, None] - d[:, None, :] + margin).clamp_min(0)
        valid = positive[:, :, None] & negative[:, None, :]
        active = valid & (losses > 1e-16)
        return losses[active].mean() if active.any() else zero
    if mining == "batch_hard":
        has = positive.any(1) & negative.any(1)
        if not has.any():
            return zero
        hardest_pos = torch.where(positive, d, torch.full_like(d, -float("inf"))).amax(1)
        hardest_neg = torch.where(negative, d, torch.full_like(d, float("inf"))).amin(1)
        return (hardest_pos - hardest_neg + margin).clamp_min(0)[has].mean()
    if mining == "semi_hard":
        anchor, pos = positive.nonzero(as_tuple=True)
        if len(anchor) == 0 or not negative.any():
            return zero
        d_ap = d[anchor, pos]
        d_an = d[anchor]  # (T, N)
        neg = negative[anchor]
        semi = neg & (d_an > d_ap[:, None])
        inf = torch.full_like(d_an, float("inf"))
        semi_min = torch.where(semi, d_an, inf).amin(1)
        hardest = torch.where(neg, d_an, inf).amin(1)
        chosen = torch.where(semi.any(1), semi_min, hardest)
        ok = neg.any(1)
        return (d_ap - chosen + margin).clamp_min(0)[ok].mean() if ok.any() else zero
    if mining == "random":
        has = positive.any(1) & negative.any(1)
        if not has.any():
            return zero
        scores = torch.rand(d.shape, device=d.device, generator=generator)
        pos = torch.where(positive, scores, torch.full_like(scores, -1.0)).argmax(1)
        neg = torch.where(negative, scores, torch.full_like(scores, -1.0)).argmax(1)
        rows = torch.arange(len(labels), device=d.device)
        return (d[rows, pos] - d[rows, neg] + margin).clamp_min(0)[has].mean()
    raise ValueError(
        f"unknown mining {mining!r}; choose from ['batch_all', 'batch_hard', 'semi_hard', 'random']"
    )


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent over 2N views: each view's positive is its pair; self-similarity masked."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), -float("inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, targets)


def decoupled_nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent without the positive in its denominator: each view's 2(N-1) negatives only (the
    decoupled contrastive loss of Yeh et al. 2022, and S1's printed formula)."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    sim = z @ z.T / temperature
    rows = torch.arange(2 * n, device=z.device)
    partners = torch.cat([rows[n:], rows[:n]])
    positive = sim[rows, partners]
    not_negative = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    not_negative[rows, partners] = True
    negatives = sim.masked_fill(not_negative, -float("inf"))
    return (torch.logsumexp(negatives, dim=1) - positive).mean()


def contrastive_accuracy(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Fraction of the 2N views whose most similar other view is their positive pair."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    sim = (z @ z.T).masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), -float("inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return (sim.argmax(1) == targets).float().mean()


def cross_view_logits(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """The N x N cosine similarities of view 1 (rows) to view 2 (columns), over the temperature."""
    return F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T / temperature


def cross_view_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """S6's contrastive loss (the Keras SimCLR example's): cross-entropy with labels 0..N-1 over
    the rows and over the columns of the N x N view-1 vs view-2 logits, the mean of the 2N
    terms. Unlike NT-Xent there are no same-view negatives: each view competes only with the
    other view's N - 1 images."""
    logits = cross_view_logits(z1, z2, temperature)
    targets = torch.arange(len(z1), device=z1.device)
    return F.cross_entropy(torch.cat([logits, logits.T]), torch.cat([targets, targets]))


def cross_view_accuracy(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Fraction of the 2N rows and columns of the view-1 vs view-2 similarity matrix whose
    largest entry is on the diagonal (the report's 'CONTRASTIVE ACCURACY')."""
    sim = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T
    targets = torch.arange(len(z1), device=z1.device)
    return torch.cat([sim.argmax(1) == targets, sim.argmax(0) == targets]).float().mean()


CONTRASTIVE = {
    "nt_xent": (nt_xent_loss, contrastive_accuracy),
    "decoupled": (decoupled_nt_xent_loss, contrastive_accuracy),
    "cross_view": (cross_view_loss, cross_view_accuracy),
}


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
    """The configured training loss (SUPERVISED[spec["name"]]) and its parts; `state`: what
    the loss's `state` built (center loss's centres)."""
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
