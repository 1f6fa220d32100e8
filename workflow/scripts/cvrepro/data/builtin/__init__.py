"""The built-in datasets: one module per dataset (fashion_mnist, cifar10, ..., oxford_pets), each
defining KIND (kind.py's BuiltinDataset: its spec, its reader and its rehearsal's writer), found by
discovery. Modules starting with `_` hold what several datasets share (_cifar_c: CIFAR-10-C and
CIFAR-100-C); the format-generic pieces (IDX, tar, zip, npy and JPEG bytes, CIFAR's batches and
restricted unpickler, the prepared splits) are cvrepro/data/datasets' readers, formats,
cifar_pickle and splits.

cvrepro.data.datasets.registry.DATASETS holds each one's spec; the list of names is also the
study schema's `subset.dataset.x-builtin-datasets` (tests/test_fetch.py holds the two equal).
"""

from __future__ import annotations

from cvrepro.data.builtin.kind import BuiltinDataset
from cvrepro.study.plugins import discover


def _named(found: dict[str, BuiltinDataset]) -> dict[str, BuiltinDataset]:
    """The modules' KINDs, each spec named as its module (a study names the dataset so)."""
    for name, kind in found.items():
        if kind.spec.name != name or kind.spec.prepare != name:
            raise ImportError(f"cvrepro/data/builtin/{name}.py: its spec's name and prepare must be {name!r}")
    return found


BUILTIN: dict[str, BuiltinDataset] = _named(discover(__name__, __path__))  # type: ignore[arg-type]

__all__ = ["BUILTIN", "BuiltinDataset"]
