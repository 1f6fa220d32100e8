"""The names a config may use for architectures, heads and generated corruptions, importable
without torch: the config checks read them while Snakemake parses the workflow, and the modules
that implement them (resnet, small_nets, heads, corruptions) are tested to define exactly these."""

from __future__ import annotations

RESNETS = ("resnet18", "resnet34", "resnet50")
SMALL_NETS = ("convnet4", "convbn_encoder", "small_cnn")
ARCHS = RESNETS + SMALL_NETS
HEADS = ("linear", "dropout_linear", "mlp")
CORRUPTIONS = (
    "brightness",
    "contrast",
    "defocus_blur",
    "elastic_transform",
    "fog",
    "gaussian_blur",
    "gaussian_noise",
    "impulse_noise",
    "jpeg_compression",
    "pixelate",
    "saturate",
    "shot_noise",
    "speckle_noise",
)
# Features a probe can read besides a run or pretraining of the study.
PIXELS = "pixels"
IMAGENET_SOURCES = tuple(f"imagenet_{arch}" for arch in RESNETS)
# `init` values that are not a run or pretraining of the study.
INIT_KEYWORDS = ("scratch", "imagenet")
