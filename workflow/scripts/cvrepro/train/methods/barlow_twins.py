"""barlow_twins (Zbontar et al. 2021, "Barlow Twins: Self-Supervised Learning via Redundancy
Reduction"): an encoder and a 3-layer projector (linear-BN-ReLU, linear-BN-ReLU, linear; the
paper's 8192 units each), two augmented views of each image, and the cross-correlation matrix C
of the two views' embeddings, each batch-normalised along the batch. Loss, the paper's eq. 1 and
Algorithm 1: sum_i (1 - C_ii)^2 + lambda * sum_{i != j} C_ij^2 with lambda 5e-3 (`lambd`), the
value the paper tuned for its 8192-d projector; no teacher, no negatives, no stop-gradient."""

from __future__ import annotations

from cvrepro.train.methods.kind import MethodKind

VIEWS = 2


def head(features: int, recipe: dict):
    from cvrepro.nets.heads import MLPHead

    projection = recipe["barlow_twins"]["projection"]
    return MLPHead(features, projection["hidden"], projection["dim"], 3, "none")


def loss(z1, z2, lambd: float):
    """Algorithm 1: each embedding normalised along the batch, (z - z.mean(0)) / z.std(0) (the
    listing's torch std, unbiased; the authors' code uses BatchNorm1d without affine, whose biased
    variance scales C by (N - 1) / N), c = z1n.T @ z2n / N, then the weighted squared deviations of
    c from the identity."""
    import torch

    n = z1.shape[0]
    z1n = (z1 - z1.mean(0)) / z1.std(0)
    z2n = (z2 - z2.mean(0)) / z2.std(0)
    c = z1n.T @ z2n / n
    diagonal = torch.diagonal(c)
    on_diag = (1 - diagonal).pow(2).sum()
    off_diag = c.pow(2).sum() - diagonal.pow(2).sum()
    return on_diag + lambd * off_diag


def build(model, recipe: dict, mean, std, probe=None, **online):
    import torch

    from cvrepro.nets.device import autocast, model_input
    from cvrepro.train.engine import Method
    from cvrepro.train.pretraining import projected
    from cvrepro.train.ssl_steps import two_views

    forward, lambd = projected(model), recipe["barlow_twins"]["lambd"]

    def step(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        x = model_input(two_views(images, recipe["augment"], mean, std, generator), model)
        with autocast(images.device):
            z = forward(x)
        z1, z2 = z.float().chunk(2)  # the cross-correlation in fp32: its sums over 8192^2 terms
        value = loss(z1, z2, lambd)
        return value, {"loss": value.detach()}

    def summarize(sums: dict[str, float], images: int, steps: int) -> dict[str, float]:
        return {"train_loss": sums["loss"] / steps}

    return Method(step, summarize, views=VIEWS)


KIND = MethodKind(keys=("barlow_twins",), views=VIEWS, build=build, head=head)
