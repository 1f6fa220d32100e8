"""simsiam (Chen & He 2021, "Exploring Simple Siamese Representation Learning"): an encoder f
with a 3-layer projector (BN after every layer, the last without ReLU) and a 2-layer bottleneck
predictor h; no teacher, no negatives. Its loss, the paper's Algorithm 1:
L = D(p1, stopgrad(z2)) / 2 + D(p2, stopgrad(z1)) / 2 with D(p, z) = -cos(p, z); the stop-gradient
is what prevents collapse. Logs the std of the l2-normalised projections (the paper's collapse
measure, ~1/sqrt(dim) healthy, 0 collapsed)."""

from __future__ import annotations

from cvrepro.train.methods.kind import MethodKind

VIEWS = 2


def head(features: int, recipe: dict):
    from cvrepro.train.ssl_steps import projector_predictor

    # The paper's projector: fc-BN-ReLU, fc-BN-ReLU, fc-BN; predictor fc-BN-ReLU, fc.
    return projector_predictor(features, recipe["simsiam"], 3, "affine")


def loss(p1, p2, z1, z2):
    """Algorithm 1's symmetric negative cosine with the stop-gradient on z."""
    import torch.nn.functional as F

    def d(p, z):
        return -F.cosine_similarity(p, z.detach(), dim=1).mean()

    return d(p1, z2) / 2 + d(p2, z1) / 2


def build(model, recipe: dict, mean, std, probe=None, **online):
    import torch

    from cvrepro.nets.device import autocast, model_input
    from cvrepro.train.engine import Method
    from cvrepro.train.pretraining import projected
    from cvrepro.train.ssl_steps import output_std, two_views

    forward = projected(model)

    def step(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        x = model_input(two_views(images, recipe["augment"], mean, std, generator), model)
        with autocast(images.device):
            z = forward(x)
            p = model.projector.predictor(z)
        z, p = z.float(), p.float()
        (z1, z2), (p1, p2) = z.chunk(2), p.chunk(2)
        value = loss(p1, p2, z1, z2)
        return value, {"loss": value.detach(), "z_std": output_std(z1)}

    def summarize(sums: dict[str, float], images: int, steps: int) -> dict[str, float]:
        return {"train_loss": sums["loss"] / steps, "z_std": sums["z_std"] / steps}

    return Method(step, summarize, views=VIEWS)


KIND = MethodKind(keys=("simsiam",), views=VIEWS, build=build, head=head)
