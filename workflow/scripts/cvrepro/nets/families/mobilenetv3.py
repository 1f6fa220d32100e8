"""MobileNetV3 (large and small): blocks in features; linear, hardswish, dropout, linear classifier."""

from cvrepro.nets.families.kind import Family

KIND = Family(head="classifier.3", stages=("features.*",))
