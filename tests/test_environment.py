"""The conda environment and the pip constraints pin the same versions."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import REPO


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if match := re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)$", line):
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_conda_env_matches_constraints():
    constraints = pins((REPO / "constraints.txt").read_text().splitlines())
    env = yaml.safe_load((REPO / "envs/cvrepro.yaml").read_text())
    pip_section = next(
        item["pip"] for item in env["dependencies"] if isinstance(item, dict) and "pip" in item
    )
    conda_pins = pins(pip_section)
    assert conda_pins, "envs/cvrepro.yaml pins nothing"
    mismatched = {
        name: (version, constraints.get(name))
        for name, version in conda_pins.items()
        if constraints.get(name) != version
    }
    assert not mismatched, f"envs/cvrepro.yaml and constraints.txt disagree: {mismatched}"
    # Every runtime dependency of the package is pinned in both.
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    runtime = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~ ]", dep, maxsplit=1)[0].lower() for dep in runtime}
    assert names <= set(conda_pins), names - set(conda_pins)
    assert names <= set(constraints), names - set(constraints)
