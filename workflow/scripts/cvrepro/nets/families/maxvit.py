"""MaxViT: built for one input size (input_size); stem, four blocks, pooled MLP classifier."""

from cvrepro.nets.families.kind import Family

KIND = Family(head="classifier.5", stages=("stem", "blocks.*"), size_arg="input_size", size_multiple=224)
