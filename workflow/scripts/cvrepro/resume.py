"""Resumable training state, kept outside a rule's declared outputs.

Snakemake deletes the outputs of a failed or killed job, so the state lives at a path the
rule passes as a parameter. It is written atomically after every epoch and holds the hash of
the run's hyperparameters: a rerun with the same parameters resumes, with changed ones restarts.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch


def save_state(path: Path, state: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_state(path: Path | None, run_hash: str) -> dict | None:
    """The saved state when it belongs to the same hyperparameters; None otherwise."""
    if path is None or not Path(path).exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("run_hash") != run_hash:
        print(
            f"{path}: saved for other hyperparameters ({state.get('run_hash')} != {run_hash}); starting over"
        )
        return None
    print(f"{path}: resuming after epoch {state['epoch']}")
    return state


def clear_state(path: Path | None) -> None:
    if path is not None:
        Path(path).unlink(missing_ok=True)


def training_state(
    run_hash: str, epoch: int, model, optimizer, scheduler, generator: torch.Generator, **extra
) -> dict:
    """Everything needed to continue after `epoch` exactly as an uninterrupted run would."""
    return {
        "run_hash": run_hash,
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
