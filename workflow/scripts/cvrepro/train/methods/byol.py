"""byol (Grill et al. 2020, "Bootstrap Your Own Latent"): an online network (encoder, projector
g, predictor q) and a target network, the EMA of the online encoder and projector
(cvrepro.train.teacher), updated after every optimizer step with the cosine momentum schedule
from `momentum` (0.996) up to 1. Loss (the paper's eq. 2 and its symmetrisation): for each view
pair, ||q(z1)/|q(z1)| - z2'/|z2'| ||^2 = 2 - 2 cos(q(z1), z2') with z2' the target's projection of
the other view (no gradient), summed over both orders and averaged over the batch. Logs the std
of the online projections' l2-normalised outputs (the collapse measure)."""

from __future__ import annotations

from cvrepro.train.methods.kind import MethodKind

VIEWS = 2


def head(features: int, recipe: dict):
    from cvrepro.train.ssl_steps import projector_predictor

    # The paper's projector and predictor: linear (4096), BN, ReLU, linear (256).
    return projector_predictor(features, recipe["byol"], 2, "none")


def loss(p1, p2, t1, t2):
    """2 - 2 cos(p1, t2) + 2 - 2 cos(p2, t1), the mean over the batch; targets carry no gradient."""
    import torch.nn.functional as F

    def regression(p, t):
        return (2 - 2 * F.cosine_similarity(p, t.detach(), dim=1)).mean()

    return regression(p1, t2) + regression(p2, t1)


def build(model, recipe: dict, mean, std, probe=None, **online):
    import torch

    from cvrepro.nets.device import autocast, model_input
    from cvrepro.train.engine import Method
    from cvrepro.train.pretraining import projected
    from cvrepro.train.ssl_steps import online_modules, output_std, teacher_projection, two_views
    from cvrepro.train.teacher import EmaTeacher, cosine_momentum

    forward, student = projected(model), online_modules(model)
    teacher, base = EmaTeacher(student), recipe["byol"]["momentum"]

    def step(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        x = model_input(two_views(images, recipe["augment"], mean, std, generator), model)
        with autocast(images.device):
            z = forward(x)
            p = model.projector.predictor(z)
            t = teacher_projection(teacher, x)
        (p1, p2), (t1, t2) = p.float().chunk(2), t.float().chunk(2)
        value = loss(p1, p2, t1, t2)
        return value, {"loss": value.detach(), "z_std": output_std(z.chunk(2)[0])}

    def after_step(k: int, total: int) -> None:
        teacher.update(student, cosine_momentum(k, total, base))

    def summarize(sums: dict[str, float], images: int, steps: int) -> dict[str, float]:
        return {"train_loss": sums["loss"] / steps, "z_std": sums["z_std"] / steps}

    return Method(step, summarize, state=teacher, views=VIEWS, after_step=after_step)


KIND = MethodKind(keys=("byol",), views=VIEWS, build=build, head=head)
