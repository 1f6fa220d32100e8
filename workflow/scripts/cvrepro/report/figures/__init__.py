"""Every kind of figure a study can ask for, one module each in this package: the keys it needs,
the names its `runs` may list, the files it reads, what the config checks ask of its rows (its
KIND, a FigureKind of kind.py), and its drawing: `draw` reads the files and saves what `figure`
draws from their data, with the helpers every kind shares (cvrepro.report.plot_axes).

The registry finds the modules itself, so a new kind is one file here plus the schema's enum
entry (tests/test_defaults.py holds the two equal; the code fingerprint of a job that imports the
registry covers every file here). Light: importable while Snakemake parses the workflow; each
draw function imports matplotlib, pandas or torch when it is called.
"""

from __future__ import annotations

from cvrepro.report.figures.kind import FigureKind, figure_groups
from cvrepro.study.plugins import discover

FIGURE_KINDS: dict[str, FigureKind] = discover(__name__, __path__)  # type: ignore[assignment]

__all__ = ["FIGURE_KINDS", "FigureKind", "figure_groups"]
