"""triplet: the triplet margin loss on the encoder's embedding, triplets mined inside each batch
(cvrepro.train.metric_losses.triplet_margin_loss; labels used); no head."""

from __future__ import annotations

from cvrepro.train.methods.kind import MethodKind

VIEWS = 1


def build(model, recipe: dict, mean, std, probe=None, **online):
    """The Method (`probe` and `online` are simclr's; triplet pretraining has no probe)."""
    import torch

    from cvrepro.data.tensors import augmented
    from cvrepro.nets.device import autocast, compile_setting, maybe_compile, model_input
    from cvrepro.train.engine import Method
    from cvrepro.train.metric_losses import triplet_margin_loss

    forward = maybe_compile(model.encoder.features, compile_setting())
    augment, spec = recipe["augment"], recipe["triplet"]

    def step(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        x = augmented(images, augment, mean, std, generator)
        with autocast(images.device):
            embeddings = forward(model_input(x, model)).float()
        loss = triplet_margin_loss(
            embeddings, labels, spec["margin"], spec["distance"], spec["mining"], generator
        )
        return loss, {"loss": loss.detach()}

    def summarize(sums: dict[str, float], images: int, steps: int) -> dict[str, float]:
        return {"train_loss": sums["loss"] / steps}

    return Method(step, summarize, views=VIEWS)


KIND = MethodKind(keys=("triplet",), views=VIEWS, build=build)
