"""Any torchvision classification model (cvrepro.nets.catalog) as a cvrepro network: built with
torchvision.models.get_model, its classifier replaced by the study's head, `features(x)` the
pre-logits vector that classifier read, ImageNet weights loaded through torchvision's weights
API.

The network keeps torchvision's model whole as `body` (its classifier an Identity, SqueezeNet's
1x1-convolution classifier global average pooling) and the study's head as `fc`, as every cvrepro
network does. Module names a study writes (freeze, layers) are torchvision's: `features.5` is
`body.features.5` here (`submodule`).

Grey images into a three-channel model, as the spec's `grey` says: `sum` replaces the first
convolution by a one-channel one whose weights are the sum over its input channels (what a grey
image repeated three times gives, in one third of the work); `repeat` keeps the network as
torchvision built it and repeats the channel at its input.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from cvrepro.nets.catalog import models as catalog_models
from cvrepro.nets.catalog import resolve_weights, size_problem
from cvrepro.nets.families import FAMILIES
from cvrepro.nets.heads import make_head

BODY = "body."


class TorchvisionNet(nn.Module):
    """torchvision's `arch` (`body`) without its classifier, and the study's head `fc`."""

    def __init__(self, body: nn.Module, num_features: int, head: nn.Module, repeat_grey: bool) -> None:
        super().__init__()
        self.body = body
        self.fc = head
        self.num_features = num_features
        self.repeat_grey = repeat_grey

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.repeat_grey and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def builder_args(spec: dict) -> dict:
    """get_model's arguments for the spec's network: the input size of a family built for one
    size, the family's arguments at random init or those torchvision sets with its weights."""
    family = FAMILIES[catalog_models()[spec["arch"]]["family"]]
    args = dict(family.weights_args if spec.get("weights") else family.random_args)
    if family.size_arg == "image_size":
        args["image_size"] = spec["image_size"]
    elif family.size_arg == "input_size":
        args["input_size"] = (spec["image_size"], spec["image_size"])
    return args


def strip(body: nn.Module, arch: str) -> nn.Module:
    """torchvision's model without its auxiliary classifiers, its classifier an Identity (or pooling)."""
    entry = catalog_models()[arch]
    family = FAMILIES[entry["family"]]
    for name in family.aux:
        setattr(body, name, None)
    if family.aux:
        body.aux_logits = False
    if family.head_is_conv:
        body.set_submodule("classifier", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()))
    else:
        body.set_submodule(entry["head"], nn.Identity())
    return body


def first_conv(body: nn.Module) -> tuple[str, nn.Conv2d]:
    return next((n, m) for n, m in body.named_modules() if isinstance(m, nn.Conv2d))


def sum_first_conv(body: nn.Module) -> None:
    """The first convolution takes one channel; its weights are summed over the three."""
    name, conv = first_conv(body)
    grey = nn.Conv2d(
        1,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        conv.bias is not None,
        conv.padding_mode,
    )
    with torch.no_grad():
        grey.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
        if conv.bias is not None:
            grey.bias.copy_(conv.bias)
    body.set_submodule(name, grey)


def build_torchvision(spec: dict) -> TorchvisionNet:
    """The network of a spec (model keys plus in_channels, num_classes, image_size and, when the
    network was made for ImageNet weights, `weights`), at random init."""
    from torchvision import models

    arch = spec["arch"]
    if spec["width"] is not None:
        raise ValueError(
            f"model.width: {arch} is torchvision's; only resnet18/34/50 and the small nets have a width"
        )
    if problem := size_problem(arch, spec["image_size"], spec.get("weights")):
        raise ValueError(f"model.arch: {problem}")
    args = builder_args(spec)
    if spec["in_channels"] == 1 and spec["grey"] == "sum" and args.get("transform_input"):
        raise ValueError(
            f"model.grey: {arch} with ImageNet weights transforms three input channels; set grey: repeat"
        )
    body = strip(models.get_model(arch, **args), arch)
    return wrap(body, spec)


def wrap(body: nn.Module, spec: dict) -> TorchvisionNet:
    grey = spec["grey"]
    if spec["in_channels"] == 1 and grey == "sum":
        sum_first_conv(body)
    head = spec["head"]
    features = catalog_models()[spec["arch"]]["features"]
    return TorchvisionNet(
        body,
        features,
        make_head(head["kind"], features, spec["num_classes"], head["dropout"], head["hidden"]),
        repeat_grey=spec["in_channels"] == 1 and grey == "repeat",
    )


@contextlib.contextmanager
def hub_checkpoints(directory: Path | None):
    """torch.hub reads weights from `directory` instead of $TORCH_HOME/hub/checkpoints (None, or
    that directory: no change); torch.hub's own setting comes back afterwards."""
    if directory is None or Path(directory) == Path(torch.hub.get_dir()) / "checkpoints":
        yield
        return
    before = torch.hub._hub_dir  # None: follow $TORCH_HOME, as before
    with tempfile.TemporaryDirectory() as hub:
        os.symlink(Path(directory).resolve(), Path(hub) / "checkpoints")
        torch.hub.set_dir(hub)
        try:
            yield
        finally:
            torch.hub._hub_dir = before


def imagenet_body(arch: str, version: str, checkpoints: Path | None = None) -> nn.Module:
    """torchvision's `arch` with its ImageNet weights `version`, through its weights API
    (get_model(weights=...) reads the file from the hub cache, or from `checkpoints`)."""
    from torchvision import models

    weights = models.get_model_weights(arch)[resolve_weights(arch, version)]
    with hub_checkpoints(checkpoints):
        return models.get_model(arch, weights=weights)


def imagenet_state(
    arch: str, version: str, in_channels: int, grey: str, checkpoints: Path | None = None
) -> dict:
    """The state dict of a TorchvisionNet initialised from ImageNet weights, head left out."""
    body = strip(imagenet_body(arch, version, checkpoints), arch)
    if in_channels == 1 and grey == "sum":
        sum_first_conv(body)
    return {BODY + name: tensor for name, tensor in body.state_dict().items()}


def submodule(model: nn.Module, name: str) -> nn.Module:
    """The module a study names: torchvision's name inside `body`, or our head `fc`."""
    if isinstance(model, TorchvisionNet) and not (name == "fc" or name.startswith("fc.")):
        name = BODY + name
    try:
        return model.get_submodule(name)
    except AttributeError:
        raise ValueError(f"no module {name.removeprefix(BODY)!r}") from None


def study_modules(model: nn.Module) -> dict[str, nn.Module]:
    """{name a study writes: module} (torchvision's names inside a TorchvisionNet's body)."""
    if not isinstance(model, TorchvisionNet):
        return dict(model.named_modules())
    return {
        **{n: m for n, m in model.body.named_modules()},
        **{f"fc.{n}".rstrip("."): m for n, m in model.fc.named_modules()},
    }


def study_names(model: nn.Module) -> list[str]:
    """Every module name a study may write, in the model's order."""
    names = [name for name, _ in model.named_modules() if name]
    if isinstance(model, TorchvisionNet):
        return [n.removeprefix(BODY) for n in names if n.startswith(BODY)] + [
            n for n in names if n.startswith("fc")
        ]
    return names
