"""vicreg (Bardes, Ponce, LeCun 2022, "VICReg: Variance-Invariance-Covariance Regularization for
Self-Supervised Learning"): an encoder and a 3-layer expander (linear-BN-ReLU, linear-BN-ReLU,
linear; the paper's 8192 units each), two augmented views of each image. Loss, the paper's eq. 6
and Algorithm 1: lambda s(z, z') + mu [v(z) + v(z')] + nu [c(z) + c(z')] with s the mean squared
error, v the hinge max(0, gamma - sqrt(Var + eps)) averaged over dimensions, c the sum of the
squared off-diagonal covariances divided by the dimension; lambda = mu = 25, nu = 1, gamma = 1,
eps = 1e-4. No teacher, no negatives, no stop-gradient."""

from __future__ import annotations

from cvrepro.train.methods.kind import MethodKind

VIEWS = 2


def head(features: int, recipe: dict):
    from cvrepro.nets.heads import MLPHead

    projection = recipe["vicreg"]["projection"]
    return MLPHead(features, projection["hidden"], projection["dim"], 3, "none")


def loss(z1, z2, spec: dict):
    """Algorithm 1 (the unbiased variance and covariance, over the batch) with the recipe's
    weights `invariance` (lambda), `variance` (mu), `covariance` (nu), `gamma` and `eps`."""
    import torch
    import torch.nn.functional as F

    n, d = z1.shape
    invariance = F.mse_loss(z1, z2)

    def variance(z):
        return F.relu(spec["gamma"] - torch.sqrt(z.var(dim=0) + spec["eps"])).mean()

    def covariance(z):
        z = z - z.mean(dim=0)
        cov = z.T @ z / (n - 1)
        return (cov.pow(2).sum() - torch.diagonal(cov).pow(2).sum()) / d

    return (
        spec["invariance"] * invariance
        + spec["variance"] * (variance(z1) + variance(z2))
        + spec["covariance"] * (covariance(z1) + covariance(z2))
    )


def build(model, recipe: dict, mean, std, probe=None, **online):
    import torch

    from cvrepro.nets.device import autocast, model_input
    from cvrepro.train.engine import Method
    from cvrepro.train.pretraining import projected
    from cvrepro.train.ssl_steps import two_views

    forward, spec = projected(model), recipe["vicreg"]

    def step(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        x = model_input(two_views(images, recipe["augment"], mean, std, generator), model)
        with autocast(images.device):
            z = forward(x)
        z1, z2 = z.float().chunk(2)
        value = loss(z1, z2, spec)
        return value, {"loss": value.detach()}

    def summarize(sums: dict[str, float], images: int, steps: int) -> dict[str, float]:
        return {"train_loss": sums["loss"] / steps}

    return Method(step, summarize, views=VIEWS)


KIND = MethodKind(keys=("vicreg",), views=VIEWS, build=build, head=head)
