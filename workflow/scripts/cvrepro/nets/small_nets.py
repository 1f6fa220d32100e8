"""The seed reports' small networks (S5, S6, S7), built by name from cvrepro.nets.models.

Every network exposes `features(x)` (the penultimate representation, `num_features` wide) and
its classifier as the attribute `fc`, like the ResNets, so heads, probes, triplet/center losses
and feature extraction treat all of them alike. Flattened sizes are computed at construction
from `image_size`, so one definition serves 28 px Fashion-MNIST and 96 px STL-10.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _out_side(side: int, stride: int) -> int:
    """Side after a 3x3 'same' convolution with this stride (Keras/PyTorch padding 1)."""
    return (side + stride - 1) // stride


class StrideSafeConv(nn.Conv2d):
    """A 3x3 'same' convolution that runs at stride 1 on a 1x1 map: the same function there (one
    output, the centre tap), because CPU bf16 autocast returns garbage weight gradients for
    stride 2 on a 1x1 input (torch 2.x oneDNN). Decided per input, not when built, since DINO's
    local crops reach the network smaller than the image size it was built for."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] == (1, 1) and self.stride != (1, 1):
            return F.conv2d(x, self.weight, self.bias, 1, self.padding)
        return super().forward(x)


class ConvNet4(nn.Module):
    """S6 (seed 003): 4 conv layers (3x3, stride 2, `width` channels, ReLU) with a 2x2 max-pool
    after each of the first three, then a dense layer of `width` units.

    A max-pool that would shrink the map below 1x1 is left out (at 96 px all three apply, as in
    the report; at 28 px the last one is skipped).
    """

    def __init__(self, *, in_channels: int, num_classes: int, width: int, image_size: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        side, channels = image_size, in_channels
        for i in range(4):
            layers += [StrideSafeConv(channels, width, 3, stride=2, padding=1), nn.ReLU(inplace=True)]
            side, channels = _out_side(side, 2), width
            if i < 3 and side >= 2:
                layers.append(nn.MaxPool2d(2, 2))
                side //= 2
        self.encoder = nn.Sequential(*layers, nn.Flatten())
        self.dense = nn.Sequential(nn.Linear(width * side * side, width), nn.ReLU(inplace=True))
        self.num_features = width
        self.fc = nn.Linear(width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def _conv_bn(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class ConvBNEncoder(nn.Module):
    """S7 (seed 004): conv 64, 64, 128, 128 (3x3, padding 1, BN, ReLU) with a 2x2 max-pool after
    the second and the fourth, then FC 4096 + ReLU + dropout 0.1: the 4096-d embedding; with
    `embedding_dim` z, a second linear layer 4096 -> z (no activation) whose output is the
    embedding, as in the report ("Second Linear layer: 4096 input features, output features").

    The report's first linear layer has "12888" (OCR of 128*8*8 = 8192) inputs at 32 px,
    which is what two pools give.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        width: int,
        image_size: int,
        embedding_dim: int | None,
        embedding: int = 4096,
        embedding_dropout: float = 0.1,
    ) -> None:
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            *_conv_bn(in_channels, w),
            *_conv_bn(w, w),
            nn.MaxPool2d(2, 2),
            *_conv_bn(w, 2 * w),
            *_conv_bn(2 * w, 2 * w),
            nn.MaxPool2d(2, 2),
            nn.Flatten(),
        )
        side = image_size // 4
        layers = [
            nn.Linear(2 * w * side * side, embedding),
            nn.ReLU(inplace=True),
            nn.Dropout(embedding_dropout),
        ]
        if embedding_dim is not None:
            layers.append(nn.Linear(embedding, embedding_dim))
        self.embed = nn.Sequential(*layers)
        self.num_features = embedding if embedding_dim is None else embedding_dim
        self.fc = nn.Linear(self.num_features, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


class SmallCNN(nn.Module):
    """S5 (seed 002, Q3): three conv+BN blocks (width, 2*width, 4*width; 2x2 max-pool each) and
    three linear layers (256, 64, classes), the layers named in the report's gradient-flow plots.
    """

    def __init__(self, *, in_channels: int, num_classes: int, width: int, image_size: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width)
        self.conv3, self.bn3 = nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.BatchNorm2d(4 * width)
        self.pool = nn.MaxPool2d(2, 2)
        side = image_size // 8
        self.linear1 = nn.Linear(4 * width * side * side, 256)
        self.linear2 = nn.Linear(256, 64)
        self.num_features = 64
        self.fc = nn.Linear(64, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)):
            x = self.pool(torch.relu(bn(conv(x))))
        x = torch.relu(self.linear1(torch.flatten(x, 1)))
        return torch.relu(self.linear2(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


NETS = {"convnet4": ConvNet4, "convbn_encoder": ConvBNEncoder, "small_cnn": SmallCNN}
DEFAULT_WIDTH = {"convnet4": 128, "convbn_encoder": 64, "small_cnn": 32}
