"""ImageNet weights through torchvision's weights API.

`torchvision.models.get_model_weights(arch).DEFAULT.get_state_dict()` downloads into
$TORCH_HOME/hub/checkpoints/ on first use and reads that cache afterwards, so a cluster can
pre-seed the cache and tests can place a state dict of their own there.
"""

from __future__ import annotations

import torch
from torchvision.models import get_model_weights

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def imagenet_weights(arch: str):
    """The torchvision weights enum entry used for `init: imagenet` (the current DEFAULT)."""
    try:
        return get_model_weights(arch).DEFAULT
    except ValueError as error:
        raise ValueError(f"init: imagenet: torchvision has no weights for {arch!r}") from error


def imagenet_state_dict(arch: str, in_channels: int = 3) -> dict[str, torch.Tensor]:
    """The ImageNet state dict of `arch`; for 1-channel inputs conv1 is summed over RGB."""
    weights = imagenet_weights(arch)
    try:
        state = weights.get_state_dict(progress=False)
    except OSError as error:  # URLError is an OSError
        raise RuntimeError(
            f"init: imagenet: could not fetch {weights.url} ({error}); place the file in "
            f"$TORCH_HOME/hub/checkpoints/ (default ~/.cache/torch/hub/checkpoints/)"
        ) from None
    if in_channels == 1:
        state["conv1.weight"] = state["conv1.weight"].sum(dim=1, keepdim=True)
    return state
