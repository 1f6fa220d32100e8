"""What the numbers were measured on: CPU model, threads, GPU, library versions."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import torch
import torchvision


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def gpu_name(device: torch.device) -> str | None:
    if device.type != "cuda":
        return None
    props = torch.cuda.get_device_properties(device)
    return f"{props.name}, {props.total_memory / 2**30:.0f} GiB"


def load() -> str:
    """The 1-minute load average next to the core count, or "-" where the OS has none."""
    if not hasattr(os, "getloadavg"):
        return "-"
    return f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} logical cores"


def busy() -> bool:
    """More runnable processes than cores: this run's rates say little about the hardware."""
    return hasattr(os, "getloadavg") and os.getloadavg()[0] > 1.5 * (os.cpu_count() or 1)


def describe(device: torch.device) -> list[str]:
    """Lines for the head of the results file."""
    lines = [
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores, torch uses {torch.get_num_threads()} threads",
        f"- GPU: {gpu_name(device) or 'none used'}",
        f"- torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"CUDA {torch.version.cuda or '-'}, Python {platform.python_version()}, {platform.system()}",
        # Other processes slow every rate down; a load well above the core count flags such a run.
        f"- load average at start: {load()}"
        + (" (BUSY: other processes ran; rates are low)" if busy() else ""),
    ]
    return lines


def slug(device: torch.device) -> str:
    """A stable file name for the machine: the GPU's name on CUDA, else the CPU's model and cores
    (host names in containers change every session and say nothing about the hardware)."""
    if device.type == "cuda":
        text = f"cuda-{torch.cuda.get_device_name(device)}"
    else:
        text = f"cpu-{os.cpu_count()}core-{cpu_model()}"
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
