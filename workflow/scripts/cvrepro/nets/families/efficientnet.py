"""EfficientNet (v1 and v2): MBConv stages in features, dropout + linear classifier."""

from cvrepro.nets.families.kind import Family

KIND = Family(head="classifier.1", stages=("features.*",))
