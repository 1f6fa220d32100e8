"""The lines a user sees around a run: what will run before the first job, where the report is
after the last. Light: the Snakefile's onstart/onsuccess handlers call it (no torch)."""

from __future__ import annotations

import os
import subprocess
from collections import Counter

from cvrepro.nets.cpu_flags import auto_precision, cpu_has_native_bf16


def gpus_listed() -> int:
    """The GPUs `nvidia-smi -L` lists (0 without the tool or a GPU); never touches CUDA."""
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return 0
    return (
        sum(line.startswith("GPU ") for line in listed.stdout.splitlines()) if listed.returncode == 0 else 0
    )


NAMES = {"bf16": "bf16 autocast", "fp16": "fp16 autocast + GradScaler", "fp32": "fp32"}


def gpu_capabilities() -> list[tuple[int, int] | None]:
    """Each listed GPU's compute capability (None where the driver does not report it)."""
    try:
        listed = subprocess.run(
            ["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in listed.stdout.splitlines() if listed.returncode == 0 else []:
        major, _, minor = line.strip().partition(".")
        found.append((int(major), int(minor)) if major.isdigit() and minor.isdigit() else None)
    return found


def compute_line(device: str, precision: str) -> str:
    """Where the model jobs will compute, as the jobs themselves will decide it (the same rule:
    cvrepro.nets.cpu_flags.auto_precision, per GPU generation)."""
    gpus = 0 if device == "cpu" else gpus_listed()
    where = f"CUDA ({gpus} GPU{'s' if gpus != 1 else ''})" if gpus else "the CPU"
    if precision == "auto" and gpus:
        capabilities = gpu_capabilities()
        if capabilities and None not in capabilities:
            picks = {NAMES[auto_precision("cuda", c, False)] for c in capabilities}
            precision = " / ".join(sorted(picks))  # mixed generations: each job picks its GPU's
        else:
            precision = "auto (by each GPU's generation)"
    elif precision == "auto":
        precision = NAMES[auto_precision("cpu", None, cpu_has_native_bf16())]
    else:
        precision = NAMES[precision]
    return f"device {device} -> {where}, precision {precision}, {os.cpu_count()} CPU cores here"


REHEARSAL_NOTE = "a REHEARSAL on synthetic data (its numbers mean nothing)"


def run_summary(jobs: list[tuple[str, int]], device: str, precision: str, rehearsal: bool) -> str:
    """One line: how many jobs of each rule will run, how many claim a GPU, device and precision.
    `jobs`: (rule, gpus it claims) for every job the run will execute."""
    what = f"cvrepro ({REHEARSAL_NOTE})" if rehearsal else "cvrepro"
    counts = Counter(rule for rule, _ in jobs if rule != "all")
    if not counts:
        return f"{what}: nothing to run, every result is up to date"
    kinds = ", ".join(f"{n} {rule}" for rule, n in counts.most_common())
    gpu = sum(1 for rule, claims in jobs if claims and rule != "all")
    return f"{what}: {sum(counts.values())} jobs to run ({kinds}); {gpu} GPU jobs; {compute_line(device, precision)}"


def done_line(studies: list[str], results: str = "results") -> str:
    """The last line: where the reports are (`results`: the run's results directory)."""
    reports = ", ".join(f"{results}/{name}/REPORT.md" for name in studies)
    if results != "results":
        return f"cvrepro: rehearsal done. Report: {results}/REPORT.md (studies: {reports})"
    return f"cvrepro: done. Report: {results}/REPORT.md (studies: {reports}); `make compare` to diff two result sets"
