"""What the two-view methods with a predictor (byol, simsiam, mocov3) share: their heads from a
recipe section, the two augmented views' projections in one forward pass, a teacher's
projections, and the collapse measure they log."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def projector_predictor(features: int, spec: dict, projector_layers: int, last_bn: str, bias: bool = True):
    """ProjectorPredictor from a method's recipe section: projection {hidden, dim} and
    predictor_hidden (the predictor maps dim -> dim)."""
    from cvrepro.nets.heads import MLPHead, ProjectorPredictor

    hidden, dim = spec["projection"]["hidden"], spec["projection"]["dim"]
    projector = MLPHead(features, hidden, dim, projector_layers, last_bn, bias)
    pred_last_bn = spec.get("predictor_last_bn", "none")
    predictor = MLPHead(dim, spec["predictor_hidden"], dim, 2, pred_last_bn, bias)
    return ProjectorPredictor(projector, predictor)


def online_modules(model) -> nn.ModuleList:
    """The student's encoder and projector (not its predictor): what a momentum teacher copies."""
    return nn.ModuleList([model.encoder, model.projector.projector])


def teacher_projection(teacher, x: torch.Tensor) -> torch.Tensor:
    """The teacher's projection of x (a copy of online_modules: encoder features, then projector),
    without gradients."""
    encoder, projector = teacher.net
    with torch.no_grad():
        return projector(encoder.features(x))


def two_views(images, augment, mean, std, generator) -> torch.Tensor:
    """Two augmented views of each image, stacked [view 1; view 2] for one forward pass."""
    from cvrepro.data.tensors import augmented

    return torch.cat([augmented(images, augment, mean, std, generator) for _ in range(2)])


def output_std(z: torch.Tensor) -> torch.Tensor:
    """SimSiam's collapse measure (Chen & He 2021, section 4.1): the mean over dimensions of the
    standard deviation of the l2-normalised outputs; about 1/sqrt(dim) without collapse, 0 with."""
    return F.normalize(z.detach().float(), dim=1).std(dim=0).mean()
