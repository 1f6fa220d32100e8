"""Resumable training state, kept outside a rule's declared outputs.

Snakemake deletes the outputs of a failed or killed job, so the state lives at a path the rule
passes as a parameter. It is written atomically after every epoch and carries the identity of what
is being trained (the recipe, the content of the training subset's index and of the initial
checkpoint): a rerun of the same thing resumes; anything else starts over.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from cvrepro.study.jsonio import config_hash


@dataclass(frozen=True)
class ResumeFile:
    path: Path
    identity: str  # see training_identity


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


def training_state(epoch: int, model, optimizer, scheduler, generator: torch.Generator, **extra) -> dict:
    """Everything needed to continue after `epoch` exactly as an uninterrupted run would."""
    return {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        **extra,
    }


def restore_training(state: dict, model, optimizer, scheduler, generator: torch.Generator) -> int:
    """Load a `training_state` back; returns the first epoch still to run."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    return state["epoch"] + 1
