"""Every pretraining method a study can name (`method`), one module each in this package: the
recipe keys it takes, its views per image, its heads and the function that builds its Method for
the one loop (MethodKind, in kind.py), in the style of solo-learn's one file per method.

The registry finds the modules itself (cvrepro.study.plugins), so a new method is one file here
plus the schema's enum entry (tests/test_methods.py holds the two equal). Light: no torch at
import; a method's build and head functions import what they use when called.
"""

from __future__ import annotations

from cvrepro.study.plugins import discover
from cvrepro.train.methods.kind import MethodKind

METHODS: dict[str, MethodKind] = discover(__name__, __path__)  # type: ignore[assignment]


def method_kind(name: str) -> MethodKind:
    """The registry's entry for `name`; an unknown name lists the choices."""
    if name not in METHODS:
        raise ValueError(f"unknown pretraining method {name!r}; choose from {sorted(METHODS)}")
    return METHODS[name]


def pretrain_net(encoder, recipe: dict):
    """The encoder with the heads `recipe["method"]` trains it through (cvrepro.train.pretraining.PretrainNet)."""
    from cvrepro.train.pretraining import PretrainNet

    kind = method_kind(recipe["method"])
    return PretrainNet(encoder, kind.head(encoder.num_features, recipe) if kind.head else None)


def pretraining_method(model, recipe: dict, mean: list[float], std: list[float], probe, **online):
    """The Method of `recipe["method"]` for `model` (a pretrain_net); `probe` is the labelled probe
    set (or None) and `online` the online probe's probe_val and steps, for the methods that take them."""
    return method_kind(recipe["method"]).build(model, recipe, mean, std, probe, **online)


__all__ = ["METHODS", "MethodKind", "method_kind", "pretrain_net", "pretraining_method"]
