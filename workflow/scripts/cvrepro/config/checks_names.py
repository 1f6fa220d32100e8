"""Config checks of names that only a model or a dataset defines: each run's and pretraining's
network (cvrepro.nets.model_checks: arch, width, weights, input size, frozen names), the layers
of probes and activation figures, and the classes an activation figure names (the registry's)."""

from __future__ import annotations

from cvrepro.config.schema import ConfigError
from cvrepro.data.datasets.registry import class_problem
from cvrepro.nets.model_checks import layer_problem, model_problem
from cvrepro.report.figures import FIGURE_KINDS
from cvrepro.study import Study
from cvrepro.study.names import IMAGENET_SOURCES, at_init


def _arch_of(study: Study, name: str) -> str | None:
    """The architecture of a run, pretraining (or its `@init`) or ImageNet source (None: a name
    checked elsewhere)."""
    name = at_init(name) or name
    for section in (study.runs, study.pretrain):
        if name in section:
            return section[name]["model"]["arch"]
    if name in IMAGENET_SOURCES:
        return name.removeprefix("imagenet_")
    return None


def _raise(key: str, problem: str | None) -> None:
    if problem:
        raise ConfigError(f"{key}: {problem}")


def check_names(study: Study) -> None:
    for section, jobs in (("runs", study.runs), ("pretrain", study.pretrain)):
        for name, job in jobs.items():
            imagenet = study.spec["imagenet_weights"] if job.get("init") == "imagenet" else None
            if problem := model_problem(job, imagenet):
                _raise(f"{study.source}: {section}.{name}.{problem[0]}", problem[1])
    for name, probe in study.probes.items():
        arch = _arch_of(study, probe["features"])
        _raise(f"{study.source}: probes.{name}.layer", arch and layer_problem(arch, probe["layer"]))
    for name, figure in study.figures.items():
        if not FIGURE_KINDS[figure["kind"]].layer_names:
            continue
        key = f"{study.source}: figures.{name}"
        runs, imagenet = figure["runs"], figure["imagenet"] or {}
        arch = _arch_of(study, runs[0]) if runs else imagenet.get("arch")
        for layer in figure["layers"] if arch else []:
            _raise(f"{key}.layers", layer_problem(arch, layer, penultimate=False))
        for wanted in figure["classes"] if figure["subset"] in study.subsets else []:
            _raise(f"{key}.classes", class_problem(study.subsets[figure["subset"]], wanted))
