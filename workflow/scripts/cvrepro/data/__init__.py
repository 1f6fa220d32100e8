"""The data stage, first in the pipeline: datasets (registry, download, readers of the original
formats, verification, synthetic stand-ins), a study's own datasets (sources/), subsets, subsets
as tensors on the device, batch augmentation and its presets, and the CIFAR-C corruptions."""
