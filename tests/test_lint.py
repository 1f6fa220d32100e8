"""`make lint`'s format and style checks, in the suite that CI runs (`make test`): snakefmt on the
Snakefile and every rule file (with pyproject.toml's settings), ruff on the Python. `snakemake
--lint` runs in tests/test_workflow.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO

BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_the_snakefile_and_every_rule_file_are_snakefmt_formatted():
    rules = sorted(str(p.relative_to(REPO)) for p in (REPO / "workflow" / "rules").glob("*.smk"))
    assert rules, "no rule files found"
    result = run(str(BIN / "snakefmt"), "--check", "Snakefile", *rules)
    assert result.returncode == 0, f"run `snakefmt Snakefile workflow/rules`:\n{result.stderr}"


def test_the_python_is_ruff_clean_and_formatted():
    folders = ("workflow", "tests", "benchmarks")
    checked = run(str(BIN / "ruff"), "check", *folders)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = run(str(BIN / "ruff"), "format", "--check", *folders)
    assert formatted.returncode == 0, f"run `ruff format {' '.join(folders)}`:\n{formatted.stdout}"
