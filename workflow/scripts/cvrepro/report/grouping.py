"""Inputs by name. A figure's or table's kind declares its files as a manifest, role -> name ->
files (a row's name -> the files of its jobs, replicates in order; or a subset's `data` and
`index`); the rule gives Snakemake every file of it as the job's input and hands the manifest
itself to the script, which reads each file by its role and name, never by its position."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

Manifest = dict[str, dict[str, list[str]]]


def manifest_files(manifest: Manifest) -> list[str]:
    """Every file of a manifest: what the rule lists as the job's input."""
    return [file for names in manifest.values() for files in names.values() for file in files]


def files_by_row(groups, file_of: Callable[[str], str]) -> dict[str, list[str]]:
    """row -> `file_of` each of its jobs, for (row, its jobs) groups."""
    return {row: [file_of(job) for job in row_jobs] for row, row_jobs in groups}


def read_rows(files_by_row: dict[str, list[str]], read: Callable[[Path], object]) -> dict[str, list]:
    """row -> `read` of each of its jobs' files."""
    return {row: [read(Path(file)) for file in files] for row, files in files_by_row.items()}


def only_file(files_by_name: dict[str, list[str]]) -> Path:
    """The one file of a role that holds one (a per-class table's source, a t-SNE's features)."""
    (files,) = files_by_name.values()
    (file,) = files
    return Path(file)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
