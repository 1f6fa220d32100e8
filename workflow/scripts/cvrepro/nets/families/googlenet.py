"""GoogLeNet (Inception v1): its auxiliary classifiers are dropped; ImageNet weights expect transform_input."""

from cvrepro.nets.families.kind import Family

KIND = Family(
    head="fc",
    stages=(
        "conv1",
        "conv2",
        "conv3",
        "inception3a",
        "inception3b",
        "inception4a",
        "inception4b",
        "inception4c",
        "inception4d",
        "inception4e",
        "inception5a",
        "inception5b",
    ),
    aux=("aux1", "aux2"),
    weights_args={"transform_input": True},
    random_args={"init_weights": True},
)
