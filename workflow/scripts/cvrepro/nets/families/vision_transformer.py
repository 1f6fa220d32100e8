"""Vision Transformer: built for one image size (image_size; ImageNet weights fix it), encoder layers, heads.head."""

from cvrepro.nets.families.kind import Family

KIND = Family(head="heads.head", stages=("conv_proj", "encoder.layers.*"), size_arg="image_size")
