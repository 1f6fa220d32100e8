"""The data stage, first in the pipeline: datasets (registry, download, readers of the original
formats, verification, synthetic stand-ins), subsets, in-memory tensors, augmentation and the
CIFAR-C corruptions."""
