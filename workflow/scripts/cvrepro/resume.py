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
