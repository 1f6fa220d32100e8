"""Freezing parts of a network, as the transfer recipes of the seed reports do."""

from __future__ import annotations

from torch import nn

HEAD = "fc"


def freeze(model: nn.Module, children: int, stages: list[str] | tuple) -> list[str]:
    """Freeze the first `children` top-level children and/or the children named in `stages`.

    The classifier `fc` always trains: a frozen network is adapted to a new task through a new
    head (S2's "first 10 children frozen + new Sequential head"). Returns the frozen names.
    """
    names = [name for name, _ in model.named_children()]
    unknown = [s for s in stages if s not in names]
    if unknown:
        raise ValueError(f"freeze.stages: no child named {unknown[0]!r}; children are {names}")
    if children > len(names):
        raise ValueError(f"freeze.children: {children} > the {len(names)} top-level children {names}")
    frozen = [n for n in names[:children] if n != HEAD] + [
        s for s in stages if s not in names[:children] and s != HEAD
    ]
    for name in frozen:
        for parameter in getattr(model, name).parameters():
            parameter.requires_grad_(False)
    return frozen


def frozen_bn_mode(recipe: dict) -> str:
    """A run's `freeze.bn`. A pretraining freezes nothing, so there `train` (plain model.train())
    and `eval` do the same."""
    return recipe["freeze"]["bn"] if "freeze" in recipe else "train"


def set_train_mode(model: nn.Module, frozen_bn: str) -> nn.Module:
    """model.train(); with `frozen_bn` "eval", BatchNorm layers whose parameters are all frozen
    go back to eval mode.

    eval (our default): a frozen BN layer in train mode would still update its running
    statistics and normalise with batch statistics, so the "frozen" features would drift.
    train: what a PyTorch script that only sets requires_grad=False and calls model.train() does
    (S2's report): frozen BN layers normalise with batch statistics and update running stats.
    """
    if frozen_bn not in ("eval", "train"):
        raise ValueError(f"freeze.bn: expected 'eval' or 'train', got {frozen_bn!r}")
    model.train()
    if frozen_bn == "train":
        return model
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            parameters = list(module.parameters())
            if parameters and not any(p.requires_grad for p in parameters):
                module.eval()
    return model
