"""Which studies and tables `make compare` compares: `--study` and `--table` (compare.diff reads
everything; a selection narrows both result sets alike before they are matched)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from compare.diff import Key, ResultSet


@dataclass(frozen=True)
class Selection:
    studies: frozenset[str] | None = None  # None: every study
    tables: frozenset[str] | None = None  # None: every table and metrics file

    def keeps_study(self, study: str) -> bool:
        return self.studies is None or study in self.studies

    def keeps(self, key: Key) -> bool:
        """A table filter keeps those tables (and their paired comparisons) and no metrics file."""
        study, source = key
        return self.keeps_study(study) and (self.tables is None or table_name(source) in self.tables)


def names(values: Iterable[str]) -> frozenset[str] | None:
    """`--study a --study b,c`, or make's STUDIES='[a, b]' passed on as it is, as a set of names;
    None (everything) when none is given or one is `all`, as in `--config studies=all`."""
    found = {
        name.strip().strip("'\"")
        for value in values
        for name in value.strip().removeprefix("[").removesuffix("]").split(",")
    }
    found.discard("")
    return None if not found or "all" in found else frozenset(found)


def table_name(source: str) -> str | None:
    """The table a source is or belongs to (`tables/t.compare` is t's paired comparisons);
    None for a metrics file."""
    if not source.startswith("tables/"):
        return None
    return source.removeprefix("tables/").removesuffix(".compare")


def select(found: ResultSet, selection: Selection) -> ResultSet:
    studies = {study for study in found.studies if selection.keeps_study(study)}
    sources = {key: rows for key, rows in found.sources.items() if selection.keeps(key)}
    return ResultSet(found.root, sources, studies)


def unknown(selection: Selection, sets: list[ResultSet]) -> str | None:
    """What the selection names that neither set has (of the selected studies' tables): a
    misspelt name would otherwise compare nothing and pass."""
    studies = set().union(*(found.studies for found in sets))
    tables = {
        table_name(source)
        for found in sets
        for study, source in found.sources
        if selection.keeps_study(study)
    } - {None}
    for kind, wanted, there in (("study", selection.studies, studies), ("table", selection.tables, tables)):
        missing = sorted((wanted or set()) - there)
        if missing:
            have = ", ".join(sorted(there)) or "none"
            return f"no {kind} {', '.join(missing)} in A or B (there: {have})"
    return None
