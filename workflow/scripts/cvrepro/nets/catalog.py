"""torchvision's classification models as data, without importing torch: model_catalog.json
(written by cvrepro.nets.catalog_build, held equal to the installed torchvision by
tests/test_model_catalog.py), and the checks the config runs on it while Snakemake parses the
workflow: architecture and weights names, module names to freeze or read, image sizes.

Every problem is one line naming what exists, with the closest names (difflib) first.
"""

from __future__ import annotations

import difflib
import functools
import json
from pathlib import Path

from cvrepro.study.names import ARCHS

CATALOG = Path(__file__).with_name("model_catalog.json")
# px: a rehearsal reads ImageNet feature sources at the smallest size the arch takes, at least
# this (cvrepro.nets.imagenet_features: random stand-in weights need no ImageNet-sized input)
MIN_REHEARSAL = 32


@functools.cache
def catalog() -> dict:
    return json.loads(CATALOG.read_text())


def models() -> dict[str, dict]:
    return catalog()["models"]


def is_torchvision(arch: str) -> bool:
    """Built by torchvision.models.get_model (resnet18/34/50 are cvrepro's own, with a width knob)."""
    return arch in models() and arch not in ARCHS


def close(name: str, choices, n: int = 3) -> str:
    """`; did you mean a, b?` or, with nothing close, the first choices."""
    choices = list(choices)
    near = difflib.get_close_matches(name, choices, n=n, cutoff=0.6) or [c for c in choices if name in c][:6]
    if near:
        return f"did you mean {', '.join(near)}?"
    shown = ", ".join(choices[:8])
    return f"choose from {shown}{', ...' if len(choices) > 8 else ''}"


def arch_problem(arch: str) -> str | None:
    if arch in ARCHS or arch in models():
        return None
    return f"unknown architecture {arch!r}; {close(arch, [*ARCHS, *models()])}"


def weights_names(arch: str) -> list[str]:
    entry = models().get(arch)
    return ["DEFAULT", *entry["weights"]] if entry else []


def resolve_weights(arch: str, name: str) -> str:
    """torchvision's name of `arch`'s weights `name` (DEFAULT resolved), or ValueError in one line."""
    entry = models().get(arch)
    if entry is None or not entry["weights"]:
        raise ValueError(f"torchvision has no ImageNet weights for {arch!r}")
    resolved = entry["default"] if name == "DEFAULT" else name
    if resolved not in entry["weights"]:
        others = sorted(a for a, e in models().items() if name in e["weights"])
        elsewhere = f" ({name} exists for {', '.join(others[:4])})" if others else ""
        raise ValueError(
            f"torchvision has no {name} weights for {arch}{elsewhere}; {close(name, weights_names(arch))}"
        )
    return resolved


def weights_entry(arch: str, name: str) -> dict:
    """File, URL, size (MiB), smallest input and preprocessing of `arch`'s weights `name`."""
    return models()[arch]["weights"][resolve_weights(arch, name)]


def module_problem(arch: str, name: str) -> str | None:
    """Why `name` is no module of torchvision's `arch` (its names to depth 3; deeper names are
    checked by their depth-3 ancestor here and in full by the job), or None."""
    names = models()[arch]["modules"]
    head = models()[arch]["head"]
    if name == head or name.startswith(head + "."):
        return f"{name!r} is {arch}'s classifier, which the study's head replaces (it always trains)"
    if name in names or ".".join(name.split(".")[:3]) in names and name.count(".") >= 3:
        return None
    return f"{arch} has no module {name!r}; {close(name, names)}"


def size_problem(arch: str, image_size: int, weights: str | None) -> str | None:
    """Why `arch` cannot take `image_size` px images (with ImageNet weights `weights`), or None."""
    entry = models()[arch]
    if weights is not None:
        wanted = weights_entry(arch, weights)["min_size"][0]
        if entry["size_arg"] and image_size != wanted:
            return (
                f"{arch} with {resolve_weights(arch, weights)} weights takes {wanted} px images only, "
                f"not {image_size}; resize the images to {wanted} (augment size: {wanted})"
            )
    multiple = entry["size_multiple"]
    if image_size % multiple:
        return f"{arch} takes images whose side is a multiple of {multiple}, not {image_size}; resize them (augment size)"
    smallest = weights_entry(arch, weights)["min_size"][0] if weights is not None else entry["min_size"]
    if image_size < smallest and not (entry["size_arg"] and weights is None):  # built for any size
        return f"{arch} takes images of at least {smallest} px, not {image_size}; resize them (augment size)"
    return None


def rehearsal_crop(arch: str) -> int:
    """The crop a rehearsal's ImageNet features of `arch` are read at: the smallest size it takes,
    at least MIN_REHEARSAL; an arch built for one size (ViT, MaxViT: `size_arg`) at the smallest
    multiple of its patch size from MIN_REHEARSAL on (its stand-in is built for that size)."""
    entry = models()[arch]
    if entry["size_arg"]:
        return -(-MIN_REHEARSAL // entry["size_multiple"]) * entry["size_multiple"]
    return max(entry["min_size"], MIN_REHEARSAL)
