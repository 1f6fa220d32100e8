"""Write the model catalog (model_catalog.json) from the installed torchvision.

    PYTHONPATH=workflow/scripts .venv/bin/python -m cvrepro.nets.catalog_build

Every name in torchvision.models.list_models(module=torchvision.models): its family, where its
classifier is and the dimension of the features feeding it, whether it has BatchNorm, its module
names (to depth 3, what `freeze` and `layer` may name), its stages, and each ImageNet weights
version: file name, URL, size, smallest input, top-1, and the preprocessing weights.transforms()
does. The networks are built with parameters on the meta device (all 80 in about 12 s, no memory).
tests/test_model_catalog.py holds the committed file equal to this function's output.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import torch
from torch import nn

from cvrepro.nets.families import FAMILIES

CATALOG = Path(__file__).with_name("model_catalog.json")
DEPTH = 3


@contextlib.contextmanager
def empty_parameters():
    """Every parameter and buffer created inside goes to the meta device (no memory, no init
    cost); tensors a builder computes with (RegNet's widths) stay real."""
    register_parameter, register_buffer = nn.Module.register_parameter, nn.Module.register_buffer

    def parameter(self, name, param):
        register_parameter(self, name, param)
        if param is not None:
            self._parameters[name] = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)

    def buffer(self, name, tensor, persistent=True):
        register_buffer(self, name, None if tensor is None else tensor.to("meta"), persistent)

    nn.Module.register_parameter, nn.Module.register_buffer = parameter, buffer
    try:
        yield
    finally:
        nn.Module.register_parameter, nn.Module.register_buffer = register_parameter, register_buffer


def family_of(arch: str) -> str:
    from torchvision import models

    return models.get_model_builder(arch).__module__.rsplit(".", 1)[-1]


def expand_stages(model: nn.Module, patterns: tuple[str, ...]) -> list[str]:
    stages = []
    for pattern in patterns:
        if pattern.endswith(".*"):
            parent = pattern[:-2]
            stages += [f"{parent}.{name}" for name, _ in model.get_submodule(parent).named_children()]
        else:
            stages.append(model.get_submodule(pattern) and pattern)
    return stages


def transforms_of(weights) -> dict:
    t = weights.transforms()
    return {
        "resize": t.resize_size[0],
        "crop": t.crop_size[0],
        "interpolation": t.interpolation.value,
        "antialias": t.antialias,
        "mean": list(t.mean),
        "std": list(t.std),
    }


def weights_of(weights) -> dict:
    meta = weights.meta
    return {
        "file": weights.url.rsplit("/", 1)[-1],
        "url": weights.url,
        "mib": meta.get("_file_size"),
        "params": meta["num_params"],
        "min_size": list(meta["min_size"]),
        "acc1": meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1"),
        "transforms": transforms_of(weights),
    }


def entry(arch: str) -> dict:
    from torchvision import models

    family_name = family_of(arch)
    family = FAMILIES[family_name]
    with empty_parameters():
        model = models.get_model(arch, **family.random_args)
    head = model.get_submodule(family.head)
    enum = models.get_model_weights(arch)
    return {
        "family": family_name,
        "head": family.head,
        "features": head.in_channels if family.head_is_conv else head.in_features,
        "batchnorm": any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()),
        "size_arg": family.size_arg,
        "size_multiple": getattr(model, "patch_size", family.size_multiple),
        "children": [name for name, _ in model.named_children() if name not in family.aux],
        "stages": expand_stages(model, family.stages),
        "modules": [
            name
            for name, _ in model.named_modules()
            if name and name.count(".") < DEPTH and name.split(".")[0] not in family.aux
        ],
        "default": enum.DEFAULT.name,
        "min_size": family.min_size or enum.DEFAULT.meta["min_size"][0],
        "weights": {w.name: weights_of(w) for w in enum},
    }


def build_catalog() -> dict:
    import torchvision
    from torchvision import models

    return {
        "torchvision": torchvision.__version__.split("+")[0],
        "models": {arch: entry(arch) for arch in sorted(models.list_models(module=models))},
    }


def main(destination: Path = CATALOG) -> None:
    with torch.no_grad():
        catalog = build_catalog()
    destination.write_text(json.dumps(catalog, indent=1, sort_keys=True) + "\n")
    print(
        f"{destination}: {len(catalog['models'])} models of torchvision {catalog['torchvision']}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
