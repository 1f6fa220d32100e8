"""Inception v3 (at least 75 px): its auxiliary classifier is dropped; ImageNet weights expect transform_input."""

from cvrepro.nets.families.kind import Family

KIND = Family(
    head="fc",
    stages=(
        "Conv2d_1a_3x3",
        "Conv2d_2a_3x3",
        "Conv2d_2b_3x3",
        "Conv2d_3b_1x1",
        "Conv2d_4a_3x3",
        "Mixed_5b",
        "Mixed_5c",
        "Mixed_5d",
        "Mixed_6a",
        "Mixed_6b",
        "Mixed_6c",
        "Mixed_6d",
        "Mixed_6e",
        "Mixed_7a",
        "Mixed_7b",
        "Mixed_7c",
    ),
    aux=("AuxLogits",),
    weights_args={"transform_input": True},
    random_args={"init_weights": True},
)
