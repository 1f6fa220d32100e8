"""Metric-learning losses on embeddings: the triplet margin loss with its in-batch mining (a
ce_triplet run's term and triplet pretraining's loss) and center loss (a ce_center run's term),
plain functions of tensors plus center loss's one stateful piece."""

from __future__ import annotations

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
