"""A study as the checks and rules see it: its validated spec, with a property per section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Study:
    name: str
    source: str  # where it was defined, for error messages and the report
    spec: dict[str, Any]  # validated, defaults filled, run_defaults merged

    @property
    def subsets(self) -> dict[str, dict]:
        return self.spec["subsets"]

    @property
    def runs(self) -> dict[str, dict]:
        return self.spec["runs"]

    @property
    def pretrain(self) -> dict[str, dict]:
        return self.spec["pretrain"]

    @property
    def probes(self) -> dict[str, dict]:
        return self.spec["probes"]

    @property
    def shift_sets(self) -> dict[str, dict]:
        return self.spec["shift_sets"]

    @property
    def bn_sweeps(self) -> dict[str, dict]:
        return self.spec["bn_sweeps"]

    @property
    def tables(self) -> dict[str, dict]:
        return self.spec["tables"]

    @property
    def figures(self) -> dict[str, dict]:
        return self.spec["figures"]

    def job_kind(self, name: str) -> str:
        """'pretrain' for a pretraining of this study, 'runs' for a run (their results' folders)."""
        return "pretrain" if name in self.pretrain else "runs"
