"""Config checks of names that only a model or a dataset defines: layers of probes and activation
figures, frozen stages, activation classes; and seeds within the range every library accepts.

Layer names come from cvrepro.study.names (no torch at load time; a test holds that table equal to the
networks build_model makes). Names below a top-level child (`encoder.3`, `fc.0`) depend on
the image size or the head, so only their first part (and a ResNet's block index) is checked
here; the job checks the rest with an error listing what exists.
"""

from __future__ import annotations

from cvrepro.config.schema import ConfigError
from cvrepro.data.datasets.registry import CIFAR10_CLASSES, FASHION_MNIST_CLASSES
from cvrepro.nets.catalog import is_torchvision, module_problem
from cvrepro.nets.model_checks import model_problem
from cvrepro.report.figures import FIGURE_KINDS
from cvrepro.study import Study
from cvrepro.study.names import CHILDREN, IMAGENET_SOURCES, RESNET_BLOCKS

PENULTIMATE = "penultimate"
# Largest seed: scikit-learn's random_state and NumPy's legacy RandomState take 0 .. 2**32 - 1
# (torch.manual_seed takes up to 2**64 - 1, default_rng any int >= 0); replicates use seed + k.
SEED_MAX = 2**32 - 1
# Class names of the datasets whose names are fixed (the others are read from their files when
# prepared, and an activation figure's unknown class is then the job's error).
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "fashion_mnist": tuple(FASHION_MNIST_CLASSES),
    "cifar10": tuple(CIFAR10_CLASSES),
    "cifar10_1": tuple(CIFAR10_CLASSES),
    "cifar10_c": tuple(CIFAR10_CLASSES),
    "dogs_vs_cats": ("cat", "dog"),
    "oxford_pets": ("cat", "dog"),
}


def layer_problem(arch: str, layer: str, penultimate: bool = True) -> str | None:
    """Why `layer` is not a module of an `arch` network, or None."""
    if is_torchvision(arch):  # torchvision's names, from the model catalog
        return None if layer == PENULTIMATE and penultimate else module_problem(arch, layer)
    children = CHILDREN[arch]
    if layer == PENULTIMATE and penultimate:
        return None
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


def _arch_of(study: Study, name: str) -> str | None:
    """The architecture of a run, pretraining or ImageNet source (None: a name checked elsewhere)."""
    for section in (study.runs, study.pretrain):
        if name in section:
            return section[name]["model"]["arch"]
    if name in IMAGENET_SOURCES:
        return name.removeprefix("imagenet_")
    return None


def _check_seed(key: str, seed: int) -> None:
    if not 0 <= seed <= SEED_MAX:
        raise ConfigError(
            f"{key}.seed: {seed} (seed + replicate index) is outside 0 .. 2**32 - 1, the seeds "
            "scikit-learn and NumPy's legacy generator accept"
        )


def _check_model(key: str, spec: dict, imagenet: str | None) -> None:
    """Architecture, width, weights, input size and freeze names (cvrepro.nets.model_checks)."""
    if problem := model_problem(spec, imagenet):
        raise ConfigError(f"{key}.{problem[0]}: {problem[1]}")


def check_class_names(key: str, subset: dict, wanted: list[str]) -> None:
    """Each wanted class is a class of the subset (its first `classes` ones), where names are known."""
    known = CLASS_NAMES.get(subset["dataset"])
    if known is None:
        return
    known = known[: subset["classes"]] if subset["classes"] else known
    for name in wanted:
        if name not in known:
            raise ConfigError(
                f"{key}: {subset['dataset']} has no class {name!r} in this subset; classes: {', '.join(known)}"
            )


def check_names(study: Study) -> None:
    for name, run in study.runs.items():
        _check_seed(f"{study.source}: runs.{name}", run["seed"])
        imagenet = study.spec["imagenet_weights"] if run["init"] == "imagenet" else None
        _check_model(f"{study.source}: runs.{name}", run, imagenet)
    for name, spec in study.pretrain.items():
        _check_seed(f"{study.source}: pretrain.{name}", spec["seed"])
        _check_model(f"{study.source}: pretrain.{name}", spec, None)
    for name, probe in study.probes.items():
        key = f"{study.source}: probes.{name}"
        _check_seed(key, probe["seed"])
        arch = _arch_of(study, probe["features"])
        problem = arch and layer_problem(arch, probe["layer"])
        if problem:
            raise ConfigError(f"{key}.layer: {problem}")
    for name, figure in study.figures.items():
        if not FIGURE_KINDS[figure["kind"]].layer_names:
            continue
        key = f"{study.source}: figures.{name}"
        arch = (
            _arch_of(study, figure["runs"][0]) if figure["runs"] else (figure["imagenet"] or {}).get("arch")
        )
        for layer in figure["layers"] if arch else []:
            if problem := layer_problem(arch, layer, penultimate=False):
                raise ConfigError(f"{key}.layers: {problem}")
        if figure["subset"] in study.subsets:
            check_class_names(f"{key}.classes", study.subsets[figure["subset"]], figure["classes"])
