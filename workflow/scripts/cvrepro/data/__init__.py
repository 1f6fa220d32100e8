"""Stage 1, data: datasets (registry, download, readers of the original formats, verification,
synthetic stand-ins), subsets, in-memory tensors, augmentation and the CIFAR-C corruptions."""
