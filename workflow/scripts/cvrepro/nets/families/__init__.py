"""The families of torchvision classification models, one module each (cvrepro.study.plugins'
shape): FAMILIES maps torchvision's module name (resnet, vision_transformer, ...) to its Family.
A new family is one module here; tests/test_model_catalog.py holds this registry equal to the
families of the installed torchvision's models."""

from __future__ import annotations

from cvrepro.nets.families.kind import Family
from cvrepro.study.plugins import discover

FAMILIES: dict[str, Family] = discover(__name__, __path__)  # type: ignore[assignment]

__all__ = ["FAMILIES", "Family"]
