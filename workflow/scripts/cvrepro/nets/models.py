"""Build a network by name from the spec saved inside every checkpoint."""

from __future__ import annotations

from torch import nn

from cvrepro.nets.heads import make_head
from cvrepro.nets.resnet import RESNETS, ResNet
from cvrepro.nets.small_nets import DEFAULT_WIDTH, NETS
from cvrepro.study.names import ARCHS


def build_model(spec: dict) -> nn.Module:
    """A network from its spec: the run's `model` keys (arch, stem, width: None for the arch's
    own, embedding_dim, head: {kind, dropout, hidden}) plus in_channels, num_classes and image_size."""
    arch, width = spec["arch"], spec["width"]
    if arch in RESNETS:
        model = ResNet(
            arch=arch,
            num_classes=spec["num_classes"],
            in_channels=spec["in_channels"],
            width=width or 64,
            stem=spec["stem"],
        )
    elif arch in NETS:
        # S7's second linear layer (the embedding's size) exists only in convbn_encoder.
        extra = {"embedding_dim": spec["embedding_dim"]} if arch == "convbn_encoder" else {}
        model = NETS[arch](
            in_channels=spec["in_channels"],
            num_classes=spec["num_classes"],
            width=width or DEFAULT_WIDTH[arch],
            image_size=spec["image_size"],
            **extra,
        )
    else:
        raise ValueError(f"unknown arch {arch!r}; choose from {list(ARCHS)}")
    head = spec["head"]
    if head["kind"] != "linear":
        model.fc = make_head(
            head["kind"], model.num_features, spec["num_classes"], head["dropout"], head["hidden"]
        )
    return model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
