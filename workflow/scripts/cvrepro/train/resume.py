"""The resumable state of a training in progress (cvrepro.train.engine.fit writes and reads it).

The state lives outside a rule's declared outputs: Snakemake deletes the outputs of a failed or
killed job, so it lives at a path the rule passes as a parameter. It is written atomically at the
end of an epoch, at most every `every_s` seconds (CVREPRO_RESUME_EVERY_S, default 60: a
ResNet-18's state is 90-135 MB, and a GPU epoch of a small set takes a fraction of a second) and
after the last epoch, and carries the identity of what is being trained (the recipe, the content
of the training subset's index and of the initial checkpoint): a rerun of the same thing resumes;
anything else starts over. It holds every random generator the run draws from (the training
generator, torch's CPU generator, every CUDA device's), the device type it was written on (a run
moved between CPU and GPU keeps its finished epochs and reseeds the training generator, with a
note, since a CPU generator's state means nothing to a CUDA one), and what the method keeps
outside the model (Method.state_dict: center loss's centres, an online probe, a teacher).
save_model_files (cvrepro.nets.checkpoint) deletes it once the job's files are written.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from cvrepro.study.jsonio import config_hash

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


def resume_file(path: Path | None, recipe: dict, *inputs: Path | None) -> ResumeFile | None:
    """Where `fit` keeps its state (a job's ModelFiles.resume; None: no resuming), tied to the
    recipe and the bytes of its inputs."""
    return ResumeFile(path, training_identity(recipe, *inputs)) if path is not None else None
