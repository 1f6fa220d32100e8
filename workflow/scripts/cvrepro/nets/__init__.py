"""Networks, which training, evaluation and feature extraction all build on: architectures
(ResNet, small nets, heads), ImageNet weights, checkpoints, and where and how they run (device,
precision, compile, batched inference)."""
