"""What a trained network leaves on disk: its checkpoint (model.pt), the files of the job that
trained it (history.csv, steps.csv with every optimizer step's batch loss, metrics.json), and
the resumable state of a training in progress.

Checkpoints are plain dicts of tensors and JSON-able values, loadable with weights_only=True.
Training and pretraining jobs both write them through save_model_files, so a checkpoint carries
the same fields whichever job made it (weights, arch, recipe, normalization, classes, seed,
provenance).

The resume state lives outside a rule's declared outputs: Snakemake deletes the outputs of a
failed or killed job, so the state lives at a path the rule passes as a parameter. It is written
atomically at the end of an epoch, at most every `every_s` seconds (CVREPRO_RESUME_EVERY_S, default
60: a ResNet-18's state is 90-135 MB, and a GPU epoch of a small set takes a fraction of a second)
and after the last epoch, and carries the identity of what is being trained (the recipe, the
content of the training subset's index and of the initial checkpoint): a rerun of the same thing
resumes; anything else starts over. It holds every random generator the run draws from (the
training generator, torch's CPU generator, every CUDA device's) and the device type it was written
on: a run moved between CPU and GPU keeps its finished epochs and reseeds the training generator,
with a note, since a CPU generator's state means nothing to a CUDA one.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from cvrepro.nets.models import build_model
from cvrepro.study.jsonio import config_hash, write_json


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


# --- the resumable state of a training in progress ------------------------------------------------


RESUME_EVERY_ENV = "CVREPRO_RESUME_EVERY_S"
RESUME_EVERY_S = 60.0


def resume_interval() -> float:
    """Seconds between resume-state writes: CVREPRO_RESUME_EVERY_S, else 60 (0: every epoch)."""
    raw = os.environ.get(RESUME_EVERY_ENV, "").strip()
    if not raw:
        return RESUME_EVERY_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise ValueError(f"{RESUME_EVERY_ENV}={raw!r} is not a number of seconds >= 0")
    return seconds


@dataclass(frozen=True)
class ResumeFile:
    path: Path
    identity: str  # see training_identity
    every_s: float = field(default_factory=resume_interval)  # write at most this often (and at the end)


def file_digest(path: Path | None) -> str | None:
    """sha256 of a file's content (None for no file)."""
    if path is None:
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def training_identity(recipe: dict, *inputs: Path | None) -> str:
    """What a resumed state must have been trained on: the recipe and the bytes of the inputs
    (subset indices, initial checkpoint). A redrawn subset or a retrained source starts over."""
    return config_hash({"recipe": recipe, "inputs": [file_digest(p) for p in inputs]})


def save_state(resume: ResumeFile, state: dict) -> None:
    path = Path(resume.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    torch.save({**state, "identity": resume.identity}, tmp)
    os.replace(tmp, path)


def load_state(resume: ResumeFile | None) -> dict | None:
    """The saved state when it belongs to the same training; None otherwise. An unreadable file
    (a disk error, a foreign file) is set aside as <name>.bad with a warning, so reruns start over
    instead of failing until someone deletes it."""
    if resume is None or not Path(resume.path).exists():
        return None
    path = Path(resume.path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        bad = path.with_name(path.name + ".bad")
        os.replace(path, bad)
        print(
            f"warning: {path}: unreadable resume state ({type(error).__name__}); moved to {bad}, starting over"
        )
        return None
    if not isinstance(state, dict) or state.get("identity") != resume.identity:
        found = state.get("identity") if isinstance(state, dict) else None
        print(f"{path}: saved for another training ({found} != {resume.identity}); starting over")
        return None
    print(f"{path}: resuming after epoch {state['epoch']}")
    return state


def training_state(
    epoch: int, model, optimizer, scheduler, generator: torch.Generator, scaler=None, **extra
) -> dict:
    """Everything needed to continue after `epoch` exactly as an uninterrupted run would: also
    every CUDA device's generator (dropout and any draw without an explicit generator use them)
    and fp16's loss scale."""
    return {
        "epoch": epoch,
        "device_type": generator.device.type,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if generator.device.type == "cuda" else [],
        "scaler": scaler.state_dict() if scaler is not None else None,
        **extra,
    }


def restore_training(
    state: dict,
    model,
    optimizer,
    scheduler,
    generator: torch.Generator,
    scaler=None,
    reseed: int = 0,
    log: Callable[[str], None] = print,
) -> int:
    """Load a `training_state` back; returns the first epoch still to run. A state written on
    another device type keeps its epochs, weights and optimizer, and the training generator is
    seeded with `reseed` + the epoch instead (said in one line): the run goes on, but its random
    draws from there differ from an uninterrupted run's."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])  # moves the optimizer's state to the weights' device
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    # A state from before device types were recorded was written on the CPU.
    written_on, here = state.get("device_type") or "cpu", generator.device.type
    if written_on == here:
        generator.set_state(state["generator"])
        cuda_states = state.get("cuda_rng") or []
        if here == "cuda" and len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
    else:
        generator.manual_seed(reseed + state["epoch"])
        log(
            f"resume state written on {written_on}, this run is on {here}: epochs after "
            f"{state['epoch']} restart with a reseeded generator (seed {reseed} + {state['epoch']}), "
            "so they will not match an uninterrupted run bit for bit"
        )
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    return state["epoch"] + 1


# --- the files a training or pretraining job leaves -----------------------------------------------


@dataclass(frozen=True)
class ModelFiles:
    """Where a training or pretraining job writes, and where it keeps its state while it runs."""

    model: Path
    history: Path
    metrics: Path
    resume: Path | None = None  # None: no resuming (tests)
    grad_flow: Path | None = None  # training only
    steps: Path | None = None  # None: not written (tests)

    def resume_file(self, recipe: dict, *inputs: Path | None) -> ResumeFile | None:
        """Where `fit` keeps its state, tied to the recipe and the bytes of its inputs."""
        return ResumeFile(self.resume, training_identity(recipe, *inputs)) if self.resume else None


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
