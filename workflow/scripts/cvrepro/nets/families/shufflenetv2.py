"""ShuffleNetV2: conv1, max-pool, three stages, conv5, linear classifier fc."""

from cvrepro.nets.families.kind import Family

KIND = Family(head="fc", stages=("conv1", "stage2", "stage3", "stage4", "conv5"))
