"""Swin Transformer (v1 and v2): patch embedding and stages in features, norm, pooling, linear head."""

from cvrepro.nets.families.kind import Family

KIND = Family(head="head", stages=("features.*",), min_size=32)
