"""Where a result came from: config hash, git commit, package versions, device."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from cvrepro.study.jsonio import config_hash

if TYPE_CHECKING:  # jobs that run no model (probes, tables) never import torch
    import torch

REPO_ROOT = Path(__file__).resolve().parents[4]
PACKAGES = ("torch", "torchvision", "numpy", "scikit-learn", "snakemake")


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def git_commit() -> str:
    """The commit of the workflow's checkout, with '-dirty' when tracked files changed."""
    try:
        commit = _git("rev-parse", "--short=12", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def device_name(device: torch.device) -> str:
    """The device and the precision its forward passes ran in, e.g. 'NVIDIA H100 (bf16 autocast)'."""
    import torch

    from cvrepro.nets.precision import precision_name

    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} ({precision_name(device)})"
    threads = torch.get_num_threads()
    return f"cpu ({platform.processor() or platform.machine()}, {threads} thread{'s' * (threads != 1)}, {precision_name(device)})"


def code_provenance(code: dict | None, field: str = "code") -> dict:
    """{key: fingerprint} of the code a job ran (the rule's `code` param, cvrepro/jobs/fingerprint.py),
    or {} when there is none: a script's main() called directly, as tests do."""
    return {field: code} if code else {}


def provenance(
    spec: dict, device: torch.device | str, seed: int | None = None, code: dict | None = None
) -> dict:
    """Where a result came from; `device` is a torch device or, for jobs without one, a label."""
    return {
        "config_hash": config_hash(spec),
        "git_commit": git_commit(),
        "versions": versions(),
        "device": device if isinstance(device, str) else device_name(device),
        "host": platform.node(),
        "seed": seed,
        **code_provenance(code),
    }
