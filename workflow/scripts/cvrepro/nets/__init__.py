"""Stage 2, networks: architectures (ResNet, small nets, heads), ImageNet weights, checkpoints,
and where and how they run (device, precision, compile, batched inference). Train and evaluate
both build on it."""
