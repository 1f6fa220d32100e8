"""ce_triplet: cross-entropy + weight x the triplet margin loss on the penultimate features,
triplets mined inside each batch (cvrepro.train.metric_losses.triplet_margin_loss)."""

from cvrepro.train.losses.kind import LossKind


def term(embeddings, labels, spec: dict, state):
    from cvrepro.train.metric_losses import triplet_margin_loss

    return triplet_margin_loss(embeddings, labels, spec["margin"], spec["distance"], spec["mining"])


KIND = LossKind(keys=("weight", "margin", "mining", "distance"), term=term, part="triplet")
