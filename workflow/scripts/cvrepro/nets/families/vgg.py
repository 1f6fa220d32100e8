"""VGG (with and without BatchNorm): convolutions in features, three linear layers (the last is the classifier)."""

from cvrepro.nets.families.kind import Family

KIND = Family(head="classifier.6", stages=("features", "classifier"))
