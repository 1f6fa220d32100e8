"""AlexNet: five convolutions, three linear layers (the last is the classifier)."""

from cvrepro.nets.families.kind import Family

KIND = Family(head="classifier.6", stages=("features", "avgpool", "classifier"))
