"""Classifier heads on the penultimate features, and SimCLR's projection head."""

from __future__ import annotations

from torch import nn

from cvrepro.study.names import HEADS


def make_head(kind: str, in_features: int, num_classes: int, dropout: float, hidden: int) -> nn.Module:
    """A classifier head: linear; dropout + linear (S2's tiny-CIFAR sweep); or a small MLP
    (S2's "new Sequential head": linear, ReLU, dropout, linear)."""
    if kind == "linear":
        return nn.Linear(in_features, num_classes)
    if kind == "dropout_linear":
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, num_classes))
    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
    raise ValueError(f"unknown head {kind!r}; choose from {list(HEADS)}")


class ProjectionHead(nn.Sequential):
    """SimCLR's g(.): linear, BN (the Keras example's head has none: `batchnorm` False), ReLU,
    linear; the contrastive loss sees its output."""

    def __init__(self, in_features: int, hidden: int, dim: int, batchnorm: bool) -> None:
        norm = [nn.BatchNorm1d(hidden)] if batchnorm else []
        super().__init__(nn.Linear(in_features, hidden), *norm, nn.ReLU(inplace=True), nn.Linear(hidden, dim))
