"""Collapse measures of a pretraining, logged per epoch in every method's history.csv.

out_std: SimSiam's measure (Chen & He 2021, section 4.1): the standard deviation over the batch
of each dimension of the l2-normalised outputs (the projector's, the encoder's features without
one), averaged over the d dimensions; about 1/sqrt(d) for outputs spread over the sphere, 0 when
every image maps to one point. out_std_ratio = out_std * sqrt(d) puts it on a 0..~1 scale.
eff_rank: the effective rank of the encoder's features (Roy & Vetterli 2007): exp of the entropy
of the singular values normalised to sum 1 (of the centred feature matrix); between 1 (every
feature on one line: dimensional collapse) and min(n, d).

Both are measured after each epoch on a fixed probe batch (the first PROBE_IMAGES training images,
un-augmented, in eval mode and without gradients), so the training step gains no host sync and
no random draw and the training's numbers are unchanged. WARN_STD_RATIO and WARN_EFF_RANK are the
thresholds below which the console and the study's report warn of collapse."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import torch
import torch.nn.functional as F

PROBE_IMAGES = 256
WARN_STD_RATIO = 0.2  # out_std below a fifth of the 1/sqrt(d) of spread-out outputs
WARN_EFF_RANK = 2.0  # the features span fewer than about two directions


def output_std(z: torch.Tensor) -> torch.Tensor:
    """Mean over dimensions of the per-dimension std of the l2-normalised rows of z (N x d)."""
    return F.normalize(z.detach().float(), dim=1).std(dim=0).mean()


def effective_rank(h: torch.Tensor) -> torch.Tensor:
    """exp(-sum p_k log p_k), p_k = sigma_k / sum sigma of the centred N x d features h."""
    h = h.detach().float()
    sigma = torch.linalg.svdvals(h - h.mean(dim=0))
    p = sigma / sigma.sum().clamp_min(1e-12)
    entropy = -(p * torch.log(p.clamp_min(1e-30))).sum()
    return torch.exp(entropy)


def collapse_scores(h: torch.Tensor, z: torch.Tensor) -> dict[str, float]:
    """The history's columns from encoder features h and outputs z of one batch."""
    std = output_std(z).item()
    return {
        "out_std": std,
        "out_std_ratio": std * math.sqrt(z.shape[1]),
        "eff_rank": effective_rank(h).item(),
    }


def collapse_warning(scores: dict[str, float]) -> str | None:
    """A line naming the measure that fell toward collapse, or None."""
    low = []
    if scores["out_std_ratio"] < WARN_STD_RATIO:
        low.append(f"output std x sqrt(d) {scores['out_std_ratio']:.3f} < {WARN_STD_RATIO}")
    if scores["eff_rank"] < WARN_EFF_RANK:
        low.append(f"effective rank {scores['eff_rank']:.2f} < {WARN_EFF_RANK}")
    return "warning: representations collapsing: " + "; ".join(low) if low else None


def with_collapse(method, model, images: torch.Tensor, mean, std, log: Callable[[str], None] = print):
    """`method` (cvrepro.train.engine.Method) whose after_epoch adds the collapse scores of `model`
    (a PretrainNet) on the fixed batch images[:PROBE_IMAGES] and logs a warning when they are low."""
    from cvrepro.data.tensors import eval_batch
    from cvrepro.nets.device import autocast, model_input

    batch = images[:PROBE_IMAGES]
    earlier = method.after_epoch

    def after_epoch(generator: torch.Generator) -> dict[str, float]:
        scores = earlier(generator)
        was_training = model.training
        model.eval()  # BatchNorm's running statistics are read, not updated
        with torch.no_grad(), autocast(batch.device):
            h = model.encoder.features(model_input(eval_batch(batch, mean, std, None), model))
            z = model.projector(h)
        model.train(was_training)
        measured = collapse_scores(h, z)
        if (warning := collapse_warning(measured)) is not None:
            log(warning)
        return {**scores, **measured}

    return replace(method, after_epoch=after_epoch)
