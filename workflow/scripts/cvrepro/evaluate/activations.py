"""Activation maps of chosen layers for chosen images (S2's early- vs late-layer figure)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from cvrepro.nets.torchvision_nets import study_modules


def first_of_each_class(labels: np.ndarray, classes: list[str], wanted: list[str]) -> list[int]:
    """Index of the first image of each wanted class name, in the order asked."""
    picks = []
    for name in wanted:
        if name not in classes:
            raise ValueError(f"no class named {name!r}; classes: {', '.join(classes)}")
        found = np.flatnonzero(labels == classes.index(name))
        if not len(found):
            raise ValueError(f"no image of class {name!r} in this subset")
        picks.append(int(found[0]))
    return picks


def imagenet_network(arch: str, weights: str, random_dir: Path | str | None = None) -> nn.Module:
    """torchvision's ImageNet-trained `arch` (weights `weights`), RGB input, its 1,000-class fc:
    our ResNet, whose module names are torchvision's, so the state dict loads strictly and the
    layers are named as torchvision names them (layer1.1.conv3). `random_dir`: a rehearsal's
    random stand-in weights (cvrepro.nets.pretrained)."""
    from cvrepro.nets.models import ResNet
    from cvrepro.nets.pretrained import imagenet_state_dict

    model = ResNet(arch=arch, num_classes=1000, in_channels=3, width=64, stem="imagenet")
    model.load_state_dict(imagenet_state_dict(arch, weights, 3, Path(random_dir) if random_dir else None))
    return model.eval()


@torch.no_grad()
def activation_maps(
    model: nn.Module, x: torch.Tensor, layers: list[str], channels: int | None
) -> dict[str, np.ndarray]:
    """For each layer, in eval mode, the mean over channels of its output, (N, h, w), or with
    `channels` its first that many channels (filters), (N, k, h, w)."""
    modules = study_modules(model)  # torchvision's names for its models
    unknown = [layer for layer in layers if layer not in modules or layer == ""]
    if unknown:
        raise ValueError(
            f"no layer {unknown[0]!r}; choose from {[name for name, _ in model.named_children()]}"
        )
    captured: dict[str, torch.Tensor] = {}
    handles = [
        modules[layer].register_forward_hook(
            lambda module, inputs, output, layer=layer: captured.__setitem__(layer, output)
        )
        for layer in layers
    ]
    try:
        model.eval()(x)
    finally:
        for handle in handles:
            handle.remove()
    maps = {}
    for layer in layers:
        output = captured[layer].float()
        if output.ndim != 4:
            raise ValueError(f"layer {layer!r} has no spatial output (shape {tuple(output.shape)})")
        maps[layer] = (output.mean(dim=1) if channels is None else output[:, :channels]).cpu().numpy()
    return maps
