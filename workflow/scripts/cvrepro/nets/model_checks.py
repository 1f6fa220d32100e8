"""The checks of a run's or pretraining's network that need the model catalog, without torch:
architecture, width, ImageNet weights, input size, freezing by name, and the layers a probe or an
activation figure reads. The config checks call `model_problem` once per run and `layer_problem`
once per layer, and turn an answer into a ConfigError naming the key.

Layer names of cvrepro's own nets come from cvrepro.study.names (a test holds that table equal to
the networks build_model makes). Names below a top-level child (`encoder.3`, `fc.0`) depend on the
image size or the head, so only their first part (and a ResNet's block index) is checked here; the
job checks the rest with an error listing what exists."""

from __future__ import annotations

from cvrepro.data.augment_presets import eval_resize
from cvrepro.nets.catalog import arch_problem, close, is_torchvision, models, module_problem, resolve_weights
from cvrepro.nets.catalog import size_problem as catalog_size_problem
from cvrepro.study.names import CHILDREN, RESNET_BLOCKS

PENULTIMATE = "penultimate"


def model_problem(spec: dict, imagenet: str | None) -> tuple[str, str] | None:
    """(key inside the run, one line) of the first problem with the network of `spec` (a run or
    pretraining, schema defaults filled) when it loads ImageNet weights `imagenet` (None: it
    does not), or None."""
    model = spec["model"]
    arch = model["arch"]
    if problem := arch_problem(arch):
        return "model.arch", problem
    if not is_torchvision(arch):
        return _freeze_names(arch, spec.get("freeze"), CHILDREN[arch], list(CHILDREN[arch]))
    entry = models()[arch]
    if model["width"] is not None:
        return "model.width", f"{arch} is torchvision's; only resnet18/34/50 and the small nets have a width"
    if imagenet is not None:
        try:
            resolve_weights(arch, imagenet)
        except ValueError as error:
            return "imagenet_weights", str(error)
    size = eval_resize(spec["augment"]) if "augment" in spec else None
    if size is not None and (problem := catalog_size_problem(arch, size, imagenet)):
        return "augment.size", problem
    return _freeze_names(arch, spec.get("freeze"), entry["children"], None)


def _freeze_names(
    arch: str, freeze: dict | None, children, modules: list[str] | None
) -> tuple[str, str] | None:
    """freeze.stages and .children against the top-level children; .modules and .until against
    the catalog's module names (`modules` None) or, for cvrepro's own nets, by their first part."""
    if not freeze:
        return None
    for stage in freeze["stages"]:
        if stage not in children:
            return (
                "freeze.stages",
                f"{arch} has no top-level child {stage!r}; its children are {', '.join(children)}",
            )
    if freeze["children"] > len(children):
        return "freeze.children", f"{freeze['children']} > the {len(children)} top-level children of {arch}"
    named = [("modules", name) for name in freeze["modules"]]
    named += [("until", freeze["until"])] if freeze["until"] else []
    for key, name in named:
        if modules is None:
            problem = module_problem(arch, name)
        elif name.split(".")[0] in modules and name.split(".")[0] != "fc":
            problem = None
        else:
            problem = f"{arch} has no module {name!r} to freeze; {close(name, modules)}"
        if problem:
            return f"freeze.{key}", problem
    return None


def layer_problem(arch: str, layer: str, penultimate: bool = True) -> str | None:
    """Why `layer` is not a module of an `arch` network, or None."""
    if layer == PENULTIMATE and penultimate:
        return None
    if is_torchvision(arch):  # torchvision's names, from the model catalog
        return module_problem(arch, layer)
    children = CHILDREN[arch]
    first, _, rest = layer.partition(".")
    choices = ([PENULTIMATE] if penultimate else []) + list(children)
    if first not in children or layer.endswith("."):
        return f"{arch} has no layer {layer!r}; choose {', '.join(choices)} (or a module inside one)"
    if arch in RESNET_BLOCKS and first.startswith("layer") and rest:
        blocks = RESNET_BLOCKS[arch][int(first.removeprefix("layer")) - 1]
        block = rest.split(".")[0]
        if not block.isdigit() or int(block) >= blocks:
            return f"{arch} has no layer {layer!r}; {first} has blocks {first}.0 .. {first}.{blocks - 1}"
    return None
