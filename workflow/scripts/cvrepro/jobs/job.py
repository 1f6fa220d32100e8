"""How every entry script starts under Snakemake: its log, GPU slot, device, precision, threads,
progress lines that reach the console as well as the log, and the provenance its results carry
(config hash, git commit, package versions, device).

    if __name__ == "__main__":
        with job(snakemake) as ctx:
            main(..., ctx=ctx)

`main` itself knows nothing of Snakemake, so tests call it directly with `Job(torch.device("cpu"))`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from cvrepro.jobs.logs import log_to
from cvrepro.study.jsonio import config_hash

if TYPE_CHECKING:  # torch is imported only by jobs that run a model: the others start faster
    import torch

    from cvrepro.data.tensors import SubsetFiles
    from cvrepro.nets.checkpoint import ModelFiles


@dataclass(frozen=True)
class Job:
    """What a script's `main` takes from the job that runs it."""

    device: torch.device | None = None  # None for jobs that run no model (tables, figures, probes)
    log: Callable[[str], None] = print  # one progress line: to the job's log and the console
    code: dict | None = None  # the rule's code fingerprint, for metrics.json's provenance
    # torchvision's ImageNet weights of the study (IMAGENET1K_V1, IMAGENET1K_V2 or DEFAULT) for a
    # job that loads them, else None.
    imagenet_weights: str | None = None
    # A rehearsal's directory of random stand-ins for ImageNet weights (cvrepro.nets.pretrained);
    # None: torchvision's real weights.
    random_weights: Path | None = None


def job_name(rule: str, wildcards: dict[str, str]) -> str:
    """`<study> <rule> <the other wildcards>`, e.g. `embedded train scratch_1k`: the prefix that
    tells apart the lines of jobs running at once."""
    rest = "/".join(value for key, value in wildcards.items() if key != "study")
    return " ".join(part for part in (wildcards.get("study", ""), rule, rest) if part)


def console_line(prefix: str, line: str, stream_fd: int = 2) -> None:
    """One prefixed, time-stamped line on the job's real stderr, in one write call, so the lines of
    jobs running at once never interleave mid-line. Under Slurm that stderr is the job's Slurm log."""
    with contextlib.suppress(OSError):
        os.write(stream_fd, f"[{time.strftime('%H:%M:%S')} {prefix}] {line}\n".encode())


def console_logger(prefix: str, stream_fd: int = 2) -> Callable[[str], None]:
    """print() into the log (stdout is redirected there) and the same line on the console."""

    def log(line: str) -> None:
        print(line, flush=True)
        console_line(prefix, line, stream_fd)

    return log


def failure_line(error: BaseException) -> str:
    """An exception as one line: a missing key or column named as such, else its first line."""
    if isinstance(error, KeyError) and error.args:
        return f"no column or key {error.args[0]!r} in what it read (KeyError)"
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first[:300]}" if first else type(error).__name__


@contextlib.contextmanager
def job(snakemake) -> Iterator[Job]:
    """The start and end of a Snakemake job's script; see the module docstring. A failure is one
    line on the console naming the job (study, rule, wildcards) and the problem; the traceback
    goes to the job's log."""
    prefix = job_name(snakemake.rule, dict(snakemake.wildcards.items()))
    try:
        with _job_context(snakemake, prefix) as ctx:
            yield ctx
    except Exception as error:
        console_line(prefix, f"failed: {failure_line(error)}; traceback in {snakemake.log[0]}")
        raise SystemExit(1) from None
    # The job is done and the process about to end: the interpreter's last garbage collection
    # would walk every object torch, pandas and scikit-learn created (about 0.5 s per job on a
    # laptop CPU, as much as some jobs' work). Frozen objects are skipped; nothing is left to free.
    gc.freeze()


@contextlib.contextmanager
def _job_context(snakemake, prefix: str) -> Iterator[Job]:
    with log_to(snakemake.log[0]):
        log = console_logger(prefix)
        gpus = snakemake.resources.get("gpu", 0)
        code = snakemake.params.code if "code" in snakemake.params.keys() else None
        if "device" not in snakemake.params.keys():
            yield Job(None, log, code)
            return
        from cvrepro.jobs.gpu_slots import gpu_slot
        from cvrepro.nets.device import job_device

        # The slot is claimed inside the log so the log records which GPU the job used.
        with gpu_slot(gpus):
            params = snakemake.params
            version = params.imagenet_weights if "imagenet_weights" in params.keys() else None
            randoms = params.random_weights if "random_weights" in params.keys() else None
            device = job_device(params.device, params.precision, snakemake.threads)
            yield Job(device, log, code, version, Path(randoms) if randoms else None)


def subset_input(snakemake, prefix: str, split_key: str | None = None) -> SubsetFiles | None:
    """The subset a rule passes as inputs `<prefix>_data` and `<prefix>_index` (`data` and
    `index` when `prefix` is empty), of the split `params.splits[split_key]` (`params.split`
    when no key is given); None when the rule has no such input."""
    from cvrepro.data.tensors import SubsetFiles

    data, index = (f"{prefix}_data", f"{prefix}_index") if prefix else ("data", "index")
    if data not in snakemake.input.keys():
        return None
    params = snakemake.params
    split = params.split if split_key is None else params.splits[split_key]
    return SubsetFiles(Path(getattr(snakemake.input, data)), split, Path(getattr(snakemake.input, index)))


def model_and_subset(snakemake) -> tuple[Path | None, SubsetFiles]:
    """What a rule that runs a model on a subset (evaluate, extract) reads: its input `model`
    (None when it has none: pixels, or an ImageNet network the job loads itself) and its subset
    (inputs `data` and `index`, of `params.split`)."""
    model = Path(snakemake.input.model) if "model" in snakemake.input.keys() else None
    return model, subset_input(snakemake, "")


def model_files(snakemake) -> ModelFiles:
    """The outputs `model`, `history`, `steps`, `metrics` (and `grad_flow`) and `params.resume` of
    a rule that trains."""
    from cvrepro.nets.checkpoint import ModelFiles

    out = snakemake.output
    grad_flow = Path(out.grad_flow) if "grad_flow" in out.keys() else None
    resume = Path(snakemake.params.resume)
    return ModelFiles(
        Path(out.model), Path(out.history), Path(out.metrics), resume, grad_flow, Path(out.steps)
    )


# Provenance: where a result came from (config hash, git commit, package versions, device).

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

    from cvrepro.nets.device import precision_name

    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} ({precision_name(device)})"
    threads = torch.get_num_threads()
    return f"cpu ({platform.processor() or platform.machine()}, {threads} thread{'s' * (threads != 1)}, {precision_name(device)})"


def _precision(device: torch.device) -> str:
    from cvrepro.nets.device import precision_name

    return precision_name(device)


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
        # What the forward passes ran in: bf16 / fp16 (+ GradScaler) autocast or fp32, TF32 on CUDA.
        **({} if isinstance(device, str) else {"precision": _precision(device)}),
        "host": platform.node(),
        "seed": seed,
        **code_provenance(code),
    }
