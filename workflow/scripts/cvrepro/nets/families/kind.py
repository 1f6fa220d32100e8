"""What cvrepro needs to know about one family of torchvision classification models.

One module per family in this package (named after torchvision's own module: resnet,
vision_transformer, ...) defines `KIND = Family(...)`. Nothing here imports torch: the config
checks read the families, through the model catalog, while Snakemake parses the workflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Family:
    """head: dotted path of the classifier torchvision builds (`fc`, `classifier.1`,
    `heads.head`); the study's head replaces it and the features are its input (the pre-logits
    vector). head_is_conv: the classifier is a 1x1 convolution on the feature map (SqueezeNet),
    so the whole `classifier` becomes global average pooling. stages: module names of the
    family's stages, input to output; `name.*` stands for every child of `name`. size_arg: the
    builder argument fixing the input size (ViT's image_size, MaxViT's input_size), which the
    weights fix too. aux: auxiliary classifiers dropped after building (GoogLeNet, Inception).
    weights_args: builder arguments that torchvision sets whenever it loads ImageNet weights
    (the network then expects them when rebuilt from a checkpoint). random_args: builder
    arguments at random initialisation. size_multiple: a family built for one size takes
    multiples of this only (MaxViT's 7x7 partitions at 1/32 scale; ViT's patch size is read from
    the network). min_size: the smallest input side the network takes at random init, where it
    is not the weights' own `min_size` (Swin's is 224 though its windows work from 32)."""

    head: str
    stages: tuple[str, ...]
    head_is_conv: bool = False
    size_arg: str | None = None
    aux: tuple[str, ...] = ()
    weights_args: dict = field(default_factory=dict)
    random_args: dict = field(default_factory=dict)
    size_multiple: int = 1
    min_size: int | None = None
