"""One GPU per job on a machine with several: a job claims free slots and sees only those GPUs.

Snakemake's `--resources gpu=N` limits how many GPU jobs run at once but never says which GPU
a job should use, so without this every job would land on GPU 0. A slot is a lock file per
GPU, held with `fcntl.flock`: the kernel drops the lock when the process exits however it
exits, so a failed or killed job can never leave its GPU marked busy.

The slots. Each GPU that `nvidia-smi -L` lists, except that a GPU split into MIG instances gives
one slot per instance (a job sees its instance through CUDA_VISIBLE_DEVICES=MIG-<uuid>). A
CUDA_VISIBLE_DEVICES set before snakemake (`2,3`: this workflow may use those two) is the pool
instead, shared out the same way; under Slurm (SLURM_JOB_ID set) the GPUs Slurm gave the job are
its own and nothing is claimed. CVREPRO_GPU_SLOTS=N pretends N GPUs 0..N-1 (tests).

The locks live in one directory per machine (the temporary directory's cvrepro-gpu-slots, open to
every user), named by GPU or MIG UUID where nvidia-smi gives one, so two clones of the workflow, or
two users, on one workstation never hand out the same GPU twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SLOTS_ENV = "CVREPRO_GPU_SLOTS"  # pretends this many GPUs (tests on CPU machines)
LOCK_DIR_ENV = "CVREPRO_GPU_LOCK_DIR"
VISIBLE = "CUDA_VISIBLE_DEVICES"
POLL_SECONDS = 0.5
_GPU_LINE = re.compile(r"^GPU (\d+): .*?(?:\(UUID: ([^)]+)\))?\s*$")
_MIG_LINE = re.compile(r"^\s+MIG .*\(UUID: ([^)]+)\)\s*$")


@dataclass(frozen=True)
class Slot:
    """One GPU or MIG instance: `visible`, what CUDA_VISIBLE_DEVICES names it by; `key`, the name
    of its lock (its UUID when known, so every clone and user locks the same file for it)."""

    visible: str
    key: str


def default_lock_dir() -> Path:
    """One directory per machine (not per working directory)."""
    return Path(tempfile.gettempdir()) / "cvrepro-gpu-slots"


def lock_dir() -> Path:
    return Path(os.environ.get(LOCK_DIR_ENV) or default_lock_dir())


def parse_listing(listing: str) -> list[tuple[str, str | None, list[str]]]:
    """`nvidia-smi -L` as (index, GPU UUID or None, its MIG instances' UUIDs) per GPU."""
    gpus: list[tuple[str, str | None, list[str]]] = []
    for line in listing.splitlines():
        if match := _GPU_LINE.match(line):
            gpus.append((match.group(1), match.group(2), []))
        elif (match := _MIG_LINE.match(line)) and gpus:
            gpus[-1][2].append(match.group(1))
    return gpus


def machine_slots(listing: str) -> list[Slot]:
    """The slots of a machine from its `nvidia-smi -L`: one per GPU, or one per MIG instance of a
    GPU in MIG mode."""
    slots = []
    for index, uuid, migs in parse_listing(listing):
        if migs:
            slots += [Slot(mig, mig) for mig in migs]
        else:
            slots.append(Slot(index, uuid or f"gpu{index}"))
    return slots


def pool_slots(visible: str, listing: str) -> list[Slot]:
    """The slots of a CUDA_VISIBLE_DEVICES set beforehand: its entries (indices or UUIDs), each
    locked under its GPU's UUID where the listing gives it."""
    uuids = {index: uuid for index, uuid, _ in parse_listing(listing) if uuid}
    entries = [entry.strip() for entry in visible.split(",") if entry.strip()]
    return [
        Slot(entry, uuids.get(entry, entry if not entry.isdigit() else f"gpu{entry}")) for entry in entries
    ]


def nvidia_smi_listing() -> str:
    """`nvidia-smi -L`'s output; empty without nvidia-smi or when it fails. Asked without touching
    CUDA in this process: once the CUDA driver is initialised, a CUDA_VISIBLE_DEVICES set
    afterwards is ignored and every job would use GPU 0."""
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return listed.stdout if listed.returncode == 0 else ""


def available_slots() -> list[Slot]:
    """What this job may claim from: CVREPRO_GPU_SLOTS pretend GPUs, a preset CUDA_VISIBLE_DEVICES
    pool, or the machine's GPUs and MIG instances."""
    if value := os.environ.get(SLOTS_ENV):
        return [Slot(str(i), f"slot{i}") for i in range(int(value))]
    if VISIBLE in os.environ:
        return pool_slots(os.environ[VISIBLE], nvidia_smi_listing())
    return machine_slots(nvidia_smi_listing())


def _open_lock(directory: Path, key: str) -> int:
    """A descriptor of the slot's lock file, created readable and writable by every user (flock
    needs only a descriptor, so a file another user made opens read-only)."""
    path = directory / f"{re.sub(r'[^A-Za-z0-9._-]', '_', key)}.lock"
    descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
    with contextlib.suppress(OSError):
        os.fchmod(descriptor, 0o666)  # past the umask; fails harmlessly on another user's file
    return descriptor


def _try_claim(directory: Path, slots: list[Slot], wanted: int) -> list[tuple[Slot, int]]:
    """Lock `wanted` free slots, or none: a partial claim is released so two jobs cannot deadlock."""
    held: list[tuple[Slot, int]] = []
    for slot in slots:
        descriptor = _open_lock(directory, slot.key)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            continue
        held.append((slot, descriptor))
        if len(held) == wanted:
            return held
    for _, descriptor in held:
        os.close(descriptor)  # closing the only descriptor drops the flock
    return []


def _make_lock_dir(directory: Path) -> None:
    """The shared lock directory, world-writable with the sticky bit (as /tmp) when this job makes it."""
    if not directory.exists():
        directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            directory.chmod(0o1777)


@contextlib.contextmanager
def gpu_slot(requested: int, poll_seconds: float = POLL_SECONDS) -> Iterator[list[str] | None]:
    """Hold `requested` GPU slots for the block and make only those visible to CUDA.

    Yields what CUDA_VISIBLE_DEVICES names the claimed slots by, or None when nothing was claimed:
    the job asked for no GPU, Slurm chose its GPUs, or there is none. Waits while all slots are
    busy, so running without `--resources gpu=N` queues GPU jobs here instead of stacking them on
    one GPU. Must be entered before anything initialises CUDA, since CUDA reads
    CUDA_VISIBLE_DEVICES only once. A preset CUDA_VISIBLE_DEVICES is restored afterwards.
    """
    if requested <= 0:
        yield None
        return
    preset = os.environ.get(VISIBLE)
    if preset is not None and os.environ.get("SLURM_JOB_ID"):
        print(f"GPU: {VISIBLE}={preset!r} chosen by Slurm; no slot claimed", flush=True)
        yield None
        return
    slots = available_slots()
    if not slots:
        print("GPU: none on this machine; no slot claimed", flush=True)
        yield None
        return
    if requested > len(slots):
        where = (
            f"{VISIBLE}={preset!r} names"
            if preset is not None and SLOTS_ENV not in os.environ
            else "this machine has"
        )
        raise ValueError(f"the job wants {requested} GPUs but {where} {len(slots)} GPU slots")
    directory = lock_dir()
    _make_lock_dir(directory)
    waited = False
    while not (held := _try_claim(directory, slots, requested)):
        if not waited:
            print(f"GPU: all {len(slots)} slots busy; waiting for one in {directory}", flush=True)
            waited = True
        time.sleep(poll_seconds)
    claimed = [slot.visible for slot, _ in held]
    os.environ[VISIBLE] = ",".join(claimed)
    print(
        f"GPU slot {os.environ[VISIBLE]} claimed at {time.time():.3f} (of {len(slots)}, locks in {directory})",
        flush=True,
    )
    try:
        yield claimed
    finally:
        if preset is None:
            del os.environ[VISIBLE]
        else:
            os.environ[VISIBLE] = preset
        for _, descriptor in held:
            os.close(descriptor)
        print(f"GPU slot {','.join(claimed)} released at {time.time():.3f}", flush=True)
