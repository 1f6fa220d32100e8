"""A study as the checks and rules see it: its validated spec, with a property per section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Layout:
    """The two trees a run writes: results (everything the DAG makes) and resources (downloads
    and prepared data). The rules name them as Snakemake's path variables <results> and
    <resources>; a rehearsal has its own pair, so it never touches a real run's files."""

    results: str = "results"
    resources: str = "resources"


REAL = Layout()
REHEARSAL = Layout("results-rehearsal", "resources-rehearsal")


@dataclass(frozen=True)
class Study:
    name: str
    source: str  # where it was defined, for error messages and the report
    spec: dict[str, Any]  # validated, defaults filled, run_defaults merged, grids and repeats expanded
    layout: Layout = REAL
    # A rehearsal's study (cvrepro.config.rehearsal): the study as written, whose full run this
    # one rehearses on synthetic data; None for a real run.
    rehearsal_of: Study | None = None
    # The images each subset holds, counted at load: from the real splits (an unsized subset:
    # what its split, `within` and `exclude` leave), or for a rehearsal as drawn from its own.
    sizes: dict[str, int] | None = None

    @property
    def results(self) -> str:
        """The study's results directory, e.g. results/embedded."""
        return f"{self.layout.results}/{self.name}"

    # The study's sections, each name -> its validated (and, for runs, pretrain and probes,
    # expanded) entries: study.runs is study.spec["runs"].
    subsets = property(lambda self: self.spec["subsets"])
    runs = property(lambda self: self.spec["runs"])
    pretrain = property(lambda self: self.spec["pretrain"])
    probes = property(lambda self: self.spec["probes"])
    shift_sets = property(lambda self: self.spec["shift_sets"])
    bn_sweeps = property(lambda self: self.spec["bn_sweeps"])
    tables = property(lambda self: self.spec["tables"])
    figures = property(lambda self: self.spec["figures"])

    def rows(self, name: str) -> list[str]:
        """The rows a name stands for: a grid run's points, else itself (a run, pretraining or
        probe as written, or one grid point)."""
        for section in ("runs", "pretrain", "probes"):
            if name in self.spec["rows"][section]:
                return self.spec["rows"][section][name]
        if name in self.spec["replicates"]:
            return [name]
        raise KeyError(name)

    def replicas(self, row: str) -> list[str]:
        """The jobs of a row: its replicates (seed + k), replicate 0 first."""
        return self.spec["replicates"][row]

    def jobs(self, name: str) -> list[str]:
        """Every job a name written in the study stands for (grid points x replicates)."""
        return [job for row in self.rows(name) for job in self.replicas(row)]

    def written(self, section: str) -> dict[str, list[str]]:
        """Names as written in the study (runs, pretrain or probes) -> their rows."""
        return self.spec["rows"][section]

    def names(self, section: str) -> list[str]:
        """What a table, figure or sweep may name in a section: each entry as written and, for a
        grid run, each of its points."""
        written = self.written(section)
        return [*written, *(row for rows in written.values() for row in rows if row not in written)]

    def grid_values(self, row: str) -> dict:
        """{key: value} of a grid point, {} for other rows."""
        return self.spec["grid_values"].get(row, {})

    def job_kind(self, name: str) -> str:
        """'pretrain' for a pretraining of this study, 'runs' for a run (their results' folders)."""
        return "pretrain" if name in self.pretrain else "runs"
