"""ce: cross-entropy alone; the one loss that takes MixUp / CutMix targets (class mixtures)."""

from cvrepro.train.losses.kind import LossKind

KIND = LossKind(keys=("mixup_alpha", "cutmix_alpha"))
