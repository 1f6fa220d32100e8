"""Every kind of results table a study can ask for, one module each in this package: the keys it
needs, the files it reads by role, where its rows come from, and the function that builds its
data frame (TableKind, in kind.py). The registry finds the modules itself, so a new kind is one
file here plus the schema's enum entry (tests/test_defaults.py holds the two equal). Light:
importable while Snakemake parses the workflow; builders import pandas and scipy when called.

A *runs* table has one row per run (a grid run: per point), pretraining or probe, each summarised
over the row's replicates (cvrepro.report.table_stats); a *sweep* table (S1's BatchNorm table) one
row per test batch size and one column per (BN mode, run); *per_class* and *confusion* tables one
row per class or cell of one run or probe. Where the study gives the source report's number,
`_reported`, `_diff` and `_verdict` follow.
"""

from __future__ import annotations

from cvrepro.report.tables.kind import Built, TableKind, sweep_column, table_groups
from cvrepro.study.plugins import discover

TABLE_KINDS: dict[str, TableKind] = discover(__name__, __path__)  # type: ignore[assignment]

__all__ = ["TABLE_KINDS", "Built", "TableKind", "sweep_column", "table_groups"]
