"""How a figure's or table's flat list of input files lines up with its rows: the rule lists every
row's jobs in order ([row, jobs] groups), and this reads them back row by row. One place for
both kinds of output, and the JSON reader they share."""

from __future__ import annotations

import json
from pathlib import Path


def grouped(groups: list, files: list[Path], read) -> dict[str, list]:
    """row -> `read` of each of its jobs' files; `files` hold every job in `groups` order."""
    it = iter(files)
    return {row: [read(next(it)) for _ in row_jobs] for row, row_jobs in groups}


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
