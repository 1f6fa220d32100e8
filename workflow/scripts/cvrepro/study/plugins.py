"""The one plugin shape every extensible part of cvrepro follows.

A kind of plugin is a package; each plugin is one module in it whose name is the plugin's name
(what a study writes: `kind: tsne`, `method: simclr`, `loss: ce`) and which defines `KIND`, an
object of the package's own declaration class (what it needs from the config, its inputs, its
work). The package's `__init__.py` builds its registry with `discover`, so a new plugin is one new
module plus the schema's enum entry; tests hold every registry equal to its enum.

Modules stay light (no torch, pandas or matplotlib at import): registries are read while Snakemake
parses the workflow, and heavy imports happen inside the functions a KIND points to.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable


def discover(package: str, path: Iterable[str], skip: Iterable[str] = ("kind",)) -> dict[str, object]:
    """{module name: module.KIND} for every module of `package` (its `__name__` and `__path__`)
    except the shared declaration modules named in `skip`, sorted by name."""
    skipped = set(skip)
    return {
        found.name: importlib.import_module(f"{package}.{found.name}").KIND
        for found in sorted(pkgutil.iter_modules(path), key=lambda m: m.name)
        if found.name not in skipped and not found.name.startswith("_")
    }
