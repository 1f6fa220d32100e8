"""ConvNeXt: four stages in features (odd indices), LayerNorm + flatten + linear classifier."""

from cvrepro.nets.families.kind import Family

KIND = Family(head="classifier.2", stages=("features.*",))
