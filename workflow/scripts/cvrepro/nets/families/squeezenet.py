"""SqueezeNet: fire modules in features; the classifier is a 1x1 convolution, replaced by pooling + the study's head."""

from cvrepro.nets.families.kind import Family

KIND = Family(head="classifier.1", stages=("features.*",), head_is_conv=True)
