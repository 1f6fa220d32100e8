"""What every pretraining method trains: the encoder plus the heads only pretraining needs
(PretrainNet), and the forward pass through them. The methods themselves are plugins, one module
each in cvrepro.train.methods."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class PretrainNet(nn.Module):
    """The encoder being pretrained plus what only pretraining needs (SimCLR's projection head),
    saved and resumed together; the encoder alone is kept afterwards."""

    def __init__(self, encoder: nn.Module, projector: nn.Module | None) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = projector if projector is not None else nn.Identity()


def projected(model: PretrainNet) -> Callable[[torch.Tensor], torch.Tensor]:
    """SimCLR's x -> z = g(f(x)) as a plain function: the unit torch.compile compiles."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        return model.projector(model.encoder.features(x))

    return forward
