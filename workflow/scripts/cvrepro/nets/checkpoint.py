"""What a trained network leaves on disk: its checkpoint (model.pt), the files of the job that
trained it (history.csv, steps.csv with every optimizer step's batch loss, metrics.json), and
where the resumable state of a training in progress goes (its content: cvrepro.train.resume).

Checkpoints are plain dicts of tensors and JSON-able values, loadable with weights_only=True.
Training and pretraining jobs both write them through save_model_files, so a checkpoint carries
the same fields whichever job made it (weights, arch, recipe, normalization, classes, seed,
provenance).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from cvrepro.nets.models import build_model
from cvrepro.study.jsonio import write_json


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


def load_initial_model(path: Path, seed: int) -> tuple[nn.Module, dict]:
    """The network of a checkpoint as its training drew it before the first step (`<pretraining>@init`):
    `seed`, then the architecture built before anything else, as pretrain.py does; the checkpoint
    gives the architecture and the normalisation, its weights are not read into the model."""
    checkpoint = load_checkpoint(path)
    torch.manual_seed(seed)
    return build_model(checkpoint["arch"]).eval(), checkpoint


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


# --- the files a training or pretraining job leaves -----------------------------------------------


@dataclass(frozen=True)
class ModelFiles:
    """Where a training or pretraining job writes, and where it keeps its state while it runs."""

    model: Path
    history: Path
    metrics: Path
    resume: Path | None = None  # the resume state (cvrepro.train.resume); None: no resuming (tests)
    grad_flow: Path | None = None  # training only
    steps: Path | None = None  # None: not written (tests)


def save_model_files(
    out: ModelFiles,
    net: nn.Module,
    arch: dict,
    normalization: dict,
    classes: list[str],
    history: list,
    metrics: dict,
    steps: list[dict],
) -> None:
    """The checkpoint (with `metrics`' recipe, its seed and provenance), the history and
    metrics.json; then the resume state goes, so a job killed before this point resumes."""
    recipe = metrics["recipe"]
    save_checkpoint(
        out.model,
        net,
        arch=arch,
        recipe=recipe,
        normalization=normalization,
        classes=classes,
        seed=recipe["seed"],
        provenance=metrics["provenance"],
    )
    pd.DataFrame(history).to_csv(out.history, index=False)
    if out.steps is not None:
        pd.DataFrame(steps, columns=["epoch", "step", "loss"]).to_csv(out.steps, index=False)
    write_json(out.metrics, metrics)  # NaN is an error, not invalid JSON
    if out.resume is not None:
        out.resume.unlink(missing_ok=True)
