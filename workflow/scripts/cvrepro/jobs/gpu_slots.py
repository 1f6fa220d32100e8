"""One GPU per job on a machine with several: a job claims free slots and sees only those GPUs.

Snakemake's `--resources gpu=N` limits how many GPU jobs run at once but never says which GPU
a job should use, so without this every job would land on GPU 0. A slot is a lock file per
GPU, held with `fcntl.flock`: the kernel drops the lock when the process exits however it
exits, so a failed or killed job can never leave its GPU marked busy.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

SLOTS_ENV = "CVREPRO_GPU_SLOTS"  # overrides the GPU count (tests on CPU machines; a subset of GPUs)
LOCK_DIR_ENV = "CVREPRO_GPU_LOCK_DIR"
DEFAULT_LOCK_DIR = Path(".snakemake") / "gpu_slots"  # Snakemake runs scripts in the working directory
VISIBLE = "CUDA_VISIBLE_DEVICES"
POLL_SECONDS = 0.5


def slot_count() -> int:
    """How many GPUs there are to share out: CVREPRO_GPU_SLOTS, else the GPUs `nvidia-smi -L`
    lists, else torch's device count."""
    if value := os.environ.get(SLOTS_ENV):
        return int(value)
    # Counted without touching CUDA in this process: once the CUDA driver is initialised, the
    # CUDA_VISIBLE_DEVICES set afterwards is ignored and every job would use GPU 0.
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
        if listed.returncode == 0:
            return sum(line.startswith("GPU ") for line in listed.stdout.splitlines())
    except (OSError, subprocess.SubprocessError):
        pass
    import torch

    # NVML-based where torch finds libnvidia-ml (it does not initialise CUDA then).
    return torch.cuda.device_count()


def lock_dir() -> Path:
    return Path(os.environ.get(LOCK_DIR_ENV) or DEFAULT_LOCK_DIR)


def _try_claim(directory: Path, slots: int, wanted: int) -> list[tuple[int, IO[bytes]]]:
    """Lock `wanted` free slots, or none: a partial claim is released so two jobs cannot deadlock."""
    held: list[tuple[int, IO[bytes]]] = []
    for slot in range(slots):
        handle = open(directory / f"slot{slot}.lock", "ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        held.append((slot, handle))
        if len(held) == wanted:
            return held
    for _, handle in held:
        handle.close()  # closing the only descriptor drops the flock
    return []


@contextlib.contextmanager
def gpu_slot(requested: int, poll_seconds: float = POLL_SECONDS) -> Iterator[list[int] | None]:
    """Hold `requested` GPU slots for the block and make only those GPUs visible to CUDA.

    Yields the claimed slot numbers, or None when nothing was claimed: the job asked for no
    GPU, CUDA_VISIBLE_DEVICES was already set by someone else (Slurm, the user), or the
    machine has no GPU. Waits while all slots are busy, so running without `--resources gpu=N`
    queues GPU jobs here instead of stacking them on one GPU. Must be entered before anything
    initialises CUDA, since CUDA reads CUDA_VISIBLE_DEVICES only once.
    """
    if requested <= 0:
        yield None
        return
    if VISIBLE in os.environ:
        print(f"GPU: {VISIBLE}={os.environ[VISIBLE]!r} was set outside the job; no slot claimed", flush=True)
        yield None
        return
    slots = slot_count()
    if slots == 0:
        print("GPU: none on this machine; no slot claimed", flush=True)
        yield None
        return
    if requested > slots:
        raise ValueError(f"the job wants {requested} GPUs but this machine has {slots} GPU slots")
    directory = lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    waited = False
    while not (held := _try_claim(directory, slots, requested)):
        if not waited:
            print(f"GPU: all {slots} slots busy; waiting for one in {directory}", flush=True)
            waited = True
        time.sleep(poll_seconds)
    claimed = [slot for slot, _ in held]
    os.environ[VISIBLE] = ",".join(str(slot) for slot in claimed)
    started = time.time()
    print(
        f"GPU slot {os.environ[VISIBLE]} claimed at {started:.3f} (of {slots}, locks in {directory})",
        flush=True,
    )
    try:
        yield claimed
    finally:
        del os.environ[VISIBLE]
        for _, handle in held:
            handle.close()
        print(f"GPU slot {','.join(map(str, claimed))} released at {time.time():.3f}", flush=True)
