"""DenseNet: dense blocks and transitions in features, one linear classifier."""

from cvrepro.nets.families.kind import Family

KIND = Family(head="classifier", stages=("features.*",))
