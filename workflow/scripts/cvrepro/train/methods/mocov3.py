"""mocov3 (Chen, Xie & He 2021, "An Empirical Study of Training Self-Supervised Vision
Transformers"): a query encoder (encoder, projector, predictor) and a momentum key encoder (EMA of
the encoder and projector, cvrepro.train.teacher) with momentum `momentum` (0.99) raised to 1 by
the cosine schedule (the reference code's --moco-m-cos of its ResNet recipe; `cosine` false keeps
it constant). Loss (the paper's Algorithm 1): ctr(q1, k2) + ctr(q2, k1) with
ctr(q, k) = CrossEntropy(q k^T / tau, arange(N)) * 2 tau on l2-normalised q and k, tau =
`temperature` (0.2); the other images of the batch are the negatives.

Why MoCo v3 rather than v2: v3 has no queue of negatives, so its only state is the key encoder
(resumed as the teacher) and it works at the small batches of a CPU run, where v2's 65,536-entry
queue of stale keys would have to be sized, filled and saved in the resume state for little gain.
Heads as the reference code's ResNet ones: linear layers without bias, BN after each, the
projector's and predictor's last BN without affine."""

from __future__ import annotations

from cvrepro.train.methods.kind import MethodKind

VIEWS = 2


def head(features: int, recipe: dict):
    from cvrepro.train.ssl_steps import projector_predictor

    spec = {**recipe["mocov3"], "predictor_last_bn": "plain"}
    return projector_predictor(features, spec, 2, "plain", bias=False)


def loss(q1, q2, k1, k2, temperature: float):
    """Algorithm 1's symmetric contrastive loss; keys carry no gradient."""
    import torch
    import torch.nn.functional as F

    def ctr(q, k):
        q, k = F.normalize(q, dim=1), F.normalize(k.detach(), dim=1)
        logits = q @ k.T / temperature
        labels = torch.arange(len(q), device=q.device)
        return F.cross_entropy(logits, labels) * 2 * temperature

    return ctr(q1, k2) + ctr(q2, k1)


def build(model, recipe: dict, mean, std, probe=None, **online):
    import torch

    from cvrepro.nets.device import autocast, model_input
    from cvrepro.train.engine import Method
    from cvrepro.train.pretraining import projected
    from cvrepro.train.ssl_steps import online_modules, output_std, teacher_projection, two_views
    from cvrepro.train.teacher import EmaTeacher, cosine_momentum

    spec = recipe["mocov3"]
    forward, student = projected(model), online_modules(model)
    teacher = EmaTeacher(student)

    def step(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        x = model_input(two_views(images, recipe["augment"], mean, std, generator), model)
        with autocast(images.device):
            z = forward(x)
            q = model.projector.predictor(z)
            k = teacher_projection(teacher, x)
        (q1, q2), (k1, k2) = q.float().chunk(2), k.float().chunk(2)
        value = loss(q1, q2, k1, k2, spec["temperature"])
        return value, {"loss": value.detach(), "z_std": output_std(z.chunk(2)[0])}

    def after_step(k: int, total: int) -> None:
        m = cosine_momentum(k, total, spec["momentum"]) if spec["cosine"] else spec["momentum"]
        teacher.update(student, m)

    def summarize(sums: dict[str, float], images: int, steps: int) -> dict[str, float]:
        return {"train_loss": sums["loss"] / steps, "z_std": sums["z_std"] / steps}

    return Method(step, summarize, state=teacher, views=VIEWS, after_step=after_step)


KIND = MethodKind(keys=("mocov3",), views=VIEWS, build=build, head=head)
