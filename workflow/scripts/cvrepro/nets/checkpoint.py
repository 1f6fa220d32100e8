"""Checkpoints: plain dicts of tensors and JSON-able values, loadable with weights_only=True."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from cvrepro.nets.models import build_model


def check_finite(state_dict: dict[str, torch.Tensor], where: Path) -> None:
    """Every floating tensor finite: a NaN weight (from a diverged step the loss check missed, or an
    infinite learning rate) fails the job that made it instead of the jobs that read it."""
    for name, tensor in state_dict.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise ValueError(
                f"{where}: tensor {name!r} has {bad} non-finite value(s) (NaN or inf); not saved"
            )


def save_checkpoint(path: Path, model: nn.Module, **fields) -> None:
    """Write atomically: a killed job never leaves a truncated checkpoint behind; non-finite
    weights are an error, not a checkpoint."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    check_finite(state, path)
    payload = {"state_dict": state, **fields}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def load_model(path: Path) -> tuple[nn.Module, dict]:
    """The network of a checkpoint, weights loaded strictly, in eval mode."""
    checkpoint = load_checkpoint(path)
    model = build_model(checkpoint["arch"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), checkpoint


HEAD_PREFIXES = ("fc.",)


def init_from_checkpoint(model: nn.Module, checkpoint: dict, source: str) -> list[str]:
    """Copy a checkpoint's weights into `model`; a classifier head of another shape is left new.

    Any other mismatch (a different architecture or width) is an error naming the first
    offending tensor. Returns the names of the tensors that were not copied.
    """
    own = model.state_dict()
    loaded, skipped = {}, []
    for name, tensor in checkpoint["state_dict"].items():
        if name not in own:
            if name.startswith(HEAD_PREFIXES):  # a head of another structure (e.g. an MLP head)
                skipped.append(name)
                continue
            raise ValueError(f"{source}: tensor {name!r} does not exist in this model; architectures differ")
        if own[name].shape != tensor.shape:
            if name.startswith(HEAD_PREFIXES):
                skipped.append(name)
                continue
            raise ValueError(
                f"{source}: {name} has shape {tuple(tensor.shape)}, this model {tuple(own[name].shape)}"
            )
        loaded[name] = tensor
    missing = [name for name in own if name not in loaded]
    if [m for m in missing if not m.startswith(HEAD_PREFIXES)]:
        raise ValueError(f"{source}: checkpoint lacks {missing[0]!r}; architectures differ")
    model.load_state_dict(loaded, strict=False)
    return sorted(set(skipped) | set(missing))
