"""ce_center: cross-entropy + weight x center loss (Wen et al. 2016) on the penultimate features;
its class centres move by their own rule (`alpha`) and resume with the run."""

from cvrepro.train.losses.kind import LossKind


def term(embeddings, labels, spec: dict, center):
    return center(embeddings, labels)


def state(spec: dict, classes: int, features: int):
    from cvrepro.train.metric_losses import CenterLoss

    return CenterLoss(classes, features, spec["alpha"])


KIND = LossKind(keys=("weight", "alpha"), term=term, part="center", state=state)
