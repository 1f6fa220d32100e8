"""Workflow timings: building the DAG (snakemake -n) and running the default study from nothing.
Both run in a fresh temporary working directory (-d), so the numbers are those of a clean
checkout and nothing touches the repository's own results/ or .snakemake/."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def snakemake(workdir: Path, *args: str, timeout: float) -> tuple[float, int, str]:
    """(seconds, jobs in the plan, output) of one snakemake call on the repository's workflow."""
    shutil.copy(REPO / "config.yaml", workdir / "config.yaml")
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir)]
    command += ["--configfile", str(workdir / "config.yaml"), *args]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=workdir)
    seconds = time.perf_counter() - start
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{output[-3000:]}")
    totals = re.findall(r"^total\s+(\d+)\s*$", output, flags=re.MULTILINE)
    return seconds, int(totals[-1]) if totals else 0, output


def slurm_plugin_note() -> str:
    """Whether this venv has the Slurm executor plugin (`make setup-slurm`), which every snakemake
    call imports when installed."""
    installed = importlib.util.find_spec("snakemake_executor_plugin_slurm") is not None
    return "Slurm executor plugin installed" if installed else "no Slurm executor plugin"


def dag_build(studies: str | None = None, timeout: float = 300, repeats: int = 5) -> tuple[float, int]:
    """(seconds, jobs) of a dry run, the best of `repeats` in one fresh working directory (the
    first also fills .snakemake/'s cache of parsed code, as a user's first dry run does; on a
    shared machine the best of the others is the code's cost, the rest is the neighbours');
    `studies` e.g. "all" goes to --config studies=..."""
    extra = ["--config", f"studies={studies}"] if studies else []
    with tempfile.TemporaryDirectory(prefix="cvrepro-dag-") as tmp:
        # --quiet without job details, but with the job stats that give the job count.
        runs = [
            snakemake(Path(tmp), "-n", "--quiet", "rules", "reason", "host", *extra, timeout=timeout)
            for _ in range(repeats)
        ]
    return min(seconds for seconds, _, _ in runs), runs[0][1]


def default_study(gpus: int, cores: str = "all", timeout: float = 3600) -> tuple[float, int]:
    """(seconds, jobs) of `make run`'s snakemake call (`--resources gpu=<gpus>`) for the default
    config in an empty directory."""
    with tempfile.TemporaryDirectory(prefix="cvrepro-default-") as tmp:
        seconds, jobs, _ = snakemake(
            Path(tmp), "--cores", cores, "--resources", f"gpu={gpus}", timeout=timeout
        )
    return seconds, jobs
