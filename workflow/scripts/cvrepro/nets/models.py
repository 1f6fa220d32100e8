"""The networks: torchvision's ResNet with a width knob and a choice of stem, the builder of
every arch from the spec saved inside every checkpoint, and freezing parts of a network as the
seed reports' transfer recipes do.

The two residual blocks are torchvision's (torchvision/models/resnet.py, groups 1, no dilation),
written here with the same modules in the same order (the parameterless ReLU aside), so state
dicts, initialisation draws and outputs are torchvision's and ImageNet weights load strictly
(tests/test_training_slice.py loads torchvision's resnet18/50 and compares). Importing
torchvision.models costs about 1.5 s, all of torchvision, in every job that builds a model.
"""

from __future__ import annotations

import torch
from torch import nn

from cvrepro.nets.catalog import arch_problem, close, is_torchvision
from cvrepro.nets.heads import make_head
from cvrepro.nets.small_nets import DEFAULT_WIDTH, NETS
from cvrepro.nets.torchvision_nets import TorchvisionNet, build_torchvision, study_names


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ResidualBlock(nn.Module):
    """conv-BN pairs named conv1/bn1, conv2/bn2, ... with a ReLU after each but the last, and the
    shortcut (identity or `downsample`) added before the final ReLU: torchvision's two blocks."""

    def __init__(self, convs: list[nn.Conv2d], downsample: nn.Module | None, stride: int) -> None:
        super().__init__()
        for i, conv in enumerate(convs, start=1):
            self.add_module(f"conv{i}", conv)
            self.add_module(f"bn{i}", nn.BatchNorm2d(conv.out_channels))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.pairs = [(f"conv{i}", f"bn{i}") for i in range(1, len(convs) + 1)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for k, (conv, bn) in enumerate(self.pairs, start=1):
            out = getattr(self, bn)(getattr(self, conv)(out))
            if k < len(self.pairs):
                out = self.relu(out)
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class BasicBlock(ResidualBlock):
    """Two 3x3 convolutions (ResNet-18/34)."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__([conv3x3(inplanes, planes, stride), conv3x3(planes, planes)], downsample, stride)


class Bottleneck(ResidualBlock):
    """1x1, 3x3 (stride here, as torchvision's v1.5), 1x1 with 4x expansion (ResNet-50)."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        convs = [conv1x1(inplanes, planes), conv3x3(planes, planes, stride), conv1x1(planes, planes * 4)]
        super().__init__(convs, downsample, stride)


RESNETS = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
}


class ResNet(nn.Module):
    """torchvision's ResNet with a width knob and a choice of stem.

    Module names and shapes match torchvision's at width 64 with the imagenet stem, so its
    ImageNet state dicts load strictly. The cifar stem (3x3 conv, stride 1, no max-pool) keeps
    the resolution of 28-32 px inputs, as CIFAR ResNets do.
    """

    def __init__(
        self,
        *,
        arch: str,
        num_classes: int,
        in_channels: int,
        width: int,
        stem: str,
    ) -> None:
        super().__init__()
        if arch not in RESNETS:
            raise ValueError(f"unknown arch {arch!r}; choose from {sorted(RESNETS)}")
        if stem not in ("cifar", "imagenet"):
            raise ValueError(f"unknown stem {stem!r}; choose from ['cifar', 'imagenet']")
        block, layers = RESNETS[arch]
        self.inplanes = width
        # Children are registered in torchvision's order (conv1, bn1, relu, maxpool, layer1..4, avgpool,
        # fc): "freeze the first k children" then means what it means for torchvision's resnet18.
        imagenet = stem == "imagenet"
        self.conv1 = nn.Conv2d(
            in_channels,
            width,
            kernel_size=7 if imagenet else 3,
            stride=2 if imagenet else 1,
            padding=3 if imagenet else 1,
            bias=False,
        )
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if imagenet else nn.Identity()
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.num_features = width * 8 * block.expansion
        self.fc = nn.Linear(self.num_features, num_classes)
        for module in self.modules():  # torchvision's initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def _make_layer(self, block: type[nn.Module], planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled penultimate features (N, num_features)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


# --- the builder of every arch --------------------------------------------------------------------


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
    elif is_torchvision(arch):  # any other torchvision classification model, with the study's head
        return build_torchvision(spec)
    else:
        raise ValueError(f"model.arch: {arch_problem(arch)}")
    head = spec["head"]
    if head["kind"] != "linear":
        model.fc = make_head(
            head["kind"], model.num_features, spec["num_classes"], head["dropout"], head["hidden"]
        )
    return model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# --- freezing -------------------------------------------------------------------------------------


HEAD = "fc"


def freeze(model: nn.Module, children: int, stages: list[str] | tuple) -> list[str]:
    """Freeze the first `children` top-level children and/or the children named in `stages`.

    The classifier `fc` always trains: a frozen network is adapted to a new task through a new
    head (S2's "first 10 children frozen + new Sequential head"). Returns the frozen names.
    """
    root = model.body if isinstance(model, TorchvisionNet) else model  # torchvision's children
    names = [name for name, _ in root.named_children()]
    unknown = [s for s in stages if s not in names]
    if unknown:
        raise ValueError(f"freeze.stages: no child named {unknown[0]!r}; children are {names}")
    if children > len(names):
        raise ValueError(f"freeze.children: {children} > the {len(names)} top-level children {names}")
    frozen = [n for n in names[:children] if n != HEAD] + [
        s for s in stages if s not in names[:children] and s != HEAD
    ]
    for name in frozen:
        for parameter in getattr(root, name).parameters():
            parameter.requires_grad_(False)
    return frozen


def freeze_modules(model: nn.Module, prefixes: list[str] | tuple, until: str | None) -> list[str]:
    """Freeze every parameter under the modules named in `prefixes` (a study's names: torchvision's
    for its models, `features.5`) and, with `until`, every parameter up to and including those of
    module `until` in the network's order. The classifier `fc` always trains. Returns what froze."""
    names = study_names(model)
    for key, name in [("modules", p) for p in prefixes] + ([("until", until)] if until else []):
        if name not in names or name == HEAD or name.startswith(HEAD + "."):
            raise ValueError(f"freeze.{key}: no module {name!r} to freeze; {close(name, names)}")
    order = [n.removeprefix("body.") for n, _ in model.named_parameters()]
    last = max((i for i, n in enumerate(order) if n.startswith(f"{until}.")), default=-1) if until else -1
    frozen = []
    for i, (name, parameter) in enumerate(zip(order, model.parameters(), strict=True)):
        if name.startswith(HEAD + "."):
            continue
        if i <= last or any(name.startswith(f"{p}.") for p in prefixes):
            parameter.requires_grad_(False)
            frozen.append(name)
    return ([f"... {until}"] if until else []) + list(prefixes) if frozen else []


def frozen_bn_mode(recipe: dict) -> str:
    """A run's `freeze.bn`. A pretraining freezes nothing, so there `train` (plain model.train())
    and `eval` do the same."""
    return recipe["freeze"]["bn"] if "freeze" in recipe else "train"


def set_train_mode(model: nn.Module, frozen_bn: str) -> nn.Module:
    """model.train(); with `frozen_bn` "eval", BatchNorm layers whose parameters are all frozen
    go back to eval mode.

    eval (our default): a frozen BN layer in train mode would still update its running
    statistics and normalise with batch statistics, so the "frozen" features would drift.
    train: what a PyTorch script that only sets requires_grad=False and calls model.train() does
    (S2's report): frozen BN layers normalise with batch statistics and update running stats.
    """
    if frozen_bn not in ("eval", "train"):
        raise ValueError(f"freeze.bn: expected 'eval' or 'train', got {frozen_bn!r}")
    model.train()
    if frozen_bn == "train":
        return model
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            parameters = list(module.parameters())
            if parameters and not any(p.requires_grad for p in parameters):
                module.eval()
    return model
