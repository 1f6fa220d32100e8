"""MNASNet: one Sequential of layers, dropout + linear classifier."""

from cvrepro.nets.families.kind import Family

KIND = Family(head="classifier.1", stages=("layers",))
