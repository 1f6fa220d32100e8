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


class MLPHead(nn.Sequential):
    """The projectors and predictors of BYOL, SimSiam and MoCo v3: `layers` linear layers, each
    but the last followed by BatchNorm and ReLU; `last_bn` adds BatchNorm after the last one
    ("affine", or "plain" without scale and shift as SimSiam's projector and MoCo v3's heads
    have; "none" for none); `bias` False drops the linear layers' biases (MoCo v3's, whose
    BatchNorm follows each)."""

    def __init__(
        self, in_features: int, hidden: int, out: int, layers: int, last_bn: str = "none", bias: bool = True
    ) -> None:
        if layers < 1 or last_bn not in ("none", "affine", "plain"):
            raise ValueError(f"MLPHead: layers {layers} (>= 1), last_bn {last_bn!r} (none|affine|plain)")
        sizes = [in_features] + [hidden] * (layers - 1) + [out]
        modules: list[nn.Module] = []
        for k, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
            modules.append(nn.Linear(a, b, bias=bias))
            if k < layers - 1:
                modules += [nn.BatchNorm1d(b), nn.ReLU(inplace=True)]
            elif last_bn != "none":
                modules.append(nn.BatchNorm1d(b, affine=last_bn == "affine"))
        super().__init__(*modules)


class ProjectorPredictor(nn.Module):
    """A projector g and a predictor q trained with the encoder (BYOL, SimSiam, MoCo v3): forward
    is the projection z = g(h), so PretrainNet's projected() gives z and the method applies
    `predictor` itself; a teacher copies the projector only."""

    def __init__(self, projector: nn.Module, predictor: nn.Module) -> None:
        super().__init__()
        self.projector = projector
        self.predictor = predictor

    def forward(self, h):
        return self.projector(h)


class DinoHead(nn.Module):
    """DINO's projection head (Caron et al. 2021, section 3.1 and its code's DINOHead): a 3-layer
    MLP (hidden, hidden, bottleneck; GELU; BatchNorm after each hidden linear layer only with
    `use_bn`, the code's use_bn_in_head), l2 normalisation, then a weight-normalised linear layer
    without bias to `out` dimensions whose norm is frozen at 1 (norm_last_layer)."""

    def __init__(
        self,
        in_features: int,
        hidden: int,
        bottleneck: int,
        out: int,
        norm_last_layer: bool,
        use_bn: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width_in in (in_features, hidden):
            layers += [nn.Linear(width_in, hidden), *([nn.BatchNorm1d(hidden)] if use_bn else []), nn.GELU()]
        self.mlp = nn.Sequential(*layers, nn.Linear(hidden, bottleneck))
        for module in self.mlp:
            if isinstance(module, nn.Linear):  # the code's trunc_normal_(std=.02), zero bias
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
        self.last_layer = nn.utils.parametrizations.weight_norm(nn.Linear(bottleneck, out, bias=False))
        norm = self.last_layer.parametrizations.weight.original0  # g; original1 is the direction v
        norm.data.fill_(1)
        norm.requires_grad = not norm_last_layer

    def forward(self, h):
        return self.last_layer(nn.functional.normalize(self.mlp(h), dim=-1, p=2))
