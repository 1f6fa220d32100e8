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


def foreign_key(spec: dict) -> tuple[str, str] | None:
    """(key, problem) for a key of pretraining `spec` that only another method takes, else None.

    A pretraining sets only the keys every method takes and its own method's (KIND.keys), as
    written (before defaults): the schema's one `pretraining` object lists every method's keys, so
    it cannot refuse, say, `temperature` on a byol pretraining. An unknown method is the schema's
    to report."""
    if spec.get("method") not in METHODS:
        return None
    method, keys = spec["method"], METHODS[spec["method"]].keys
    owned = {key for kind in METHODS.values() for key in kind.keys}
    for key in spec:
        if key in owned and key not in keys:
            return key, f"method {method} does not take {key!r} (its own keys: {', '.join(keys) or 'none'})"
    return None


__all__ = ["METHODS", "MethodKind", "foreign_key", "method_kind", "pretrain_net", "pretraining_method"]
