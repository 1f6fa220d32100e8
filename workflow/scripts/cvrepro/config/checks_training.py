"""Config checks of what trains that the schema cannot state: runs (subsets, init chains,
ImageNet weight versions, schedules), pretrainings and probes, against the study's other sections."""

from __future__ import annotations

import math

from cvrepro.config.checks_data import check_subset_ref, subsets_disjoint, topological_order
from cvrepro.config.schema import ConfigError, check_named
from cvrepro.data import class_maps
from cvrepro.data.augment_presets import resolve as resolve_augment
from cvrepro.data.datasets.registry import num_classes
from cvrepro.nets.catalog import close, resolve_weights
from cvrepro.study import Study
from cvrepro.study.names import AT_INIT, IMAGENET_SOURCES, INIT_KEYWORDS, PIXELS
from cvrepro.train.batches import steps_per_epoch


def check_augment(key: str, spec: str | dict) -> None:
    """`key`: the augmentation's dotted key (runs.a.augment, pretrain.p.probe_augment)."""
    try:
        resolve_augment(spec)
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None


def check_schedule(where: str, spec: dict, epochs: int) -> None:
    if spec["name"] == "cosine" and spec["warmup_epochs"] >= (spec["t_max"] or epochs):
        raise ConfigError(
            f"{where}.schedule.warmup_epochs: {spec['warmup_epochs']} is not shorter than the cosine "
            f"period ({spec['t_max'] or epochs} epochs)"
        )


def _check_run_subsets(study: Study, key: str, run: dict) -> None:
    subsets = study.subsets
    for role in ("train", "val", "test"):
        if run[role] is not None:
            check_named(f"{key}.{role}", "subset", run[role], subsets)
    train_classes = num_classes(subsets[run["train"]])
    outputs = run["model"]["head"]["outputs"]
    if outputs is not None and outputs < train_classes:
        raise ConfigError(
            f"{key}.model.head.outputs: {outputs} is fewer than the {train_classes} classes of {run['train']!r}"
        )
    for role in ("val", "test"):
        ref = run[role]
        if ref is None:
            continue
        if not subsets_disjoint(subsets, run["train"], ref):
            raise ConfigError(
                f"{key}.{role}: subset {ref!r} may overlap the training subset {run['train']!r} "
                f"(same {subsets[ref]['dataset']}/{subsets[ref]['split']}); add it to `exclude` of one of them"
            )
        if num_classes(subsets[ref]) != train_classes:
            raise ConfigError(
                f"{key}.{role}: subset {ref!r} has {num_classes(subsets[ref])} classes, the training subset {train_classes}"
            )


def _check_init(study: Study, key: str, run: dict) -> None:
    init = run["init"]
    if init not in INIT_KEYWORDS and init not in study.runs and init not in study.pretrain:
        raise ConfigError(
            f"{key}.init: expected 'scratch', 'imagenet' or a run or pretraining of this study, got {init!r}"
        )


def check_runs(study: Study) -> None:
    for name, run in study.runs.items():
        key = f"{study.source}: runs.{name}"
        _check_run_subsets(study, key, run)
        _check_init(study, key, run)
        check_augment(f"{key}.augment", run["augment"])
        check_schedule(key, run["schedule"], run["epochs"])
    topological_order(
        {name: [run["init"]] if run["init"] in study.runs else [] for name, run in study.runs.items()},
        f"{study.source}: runs",
        "init",
    )


def check_pretrain(study: Study) -> None:
    for name, spec in study.pretrain.items():
        key = f"pretrain.{name}"
        if name in study.runs:
            raise ConfigError(
                f"{study.source}: {key}: a run has the same name; runs and pretrainings share names"
            )
        check_subset_ref(study, f"{key}.data", spec["data"])
        check_subset_ref(study, f"{key}.probe_data", spec["probe_data"])
        if spec["method"] == "triplet" and study.subsets[spec["data"]]["split"] == "unlabeled":
            raise ConfigError(
                f"{study.source}: {key}.data: triplet pretraining needs labels; {spec['data']!r} is unlabelled"
            )
        check_augment(f"{study.source}: {key}.augment", spec["augment"])
        check_schedule(f"{study.source}: {key}", spec["schedule"], spec["epochs"])
        _check_online_probe(study, key, spec)


def _check_online_probe(study: Study, key: str, spec: dict) -> None:
    """`probe: online` needs labelled probe_data (simclr); probe_val is its validation subset."""
    check_subset_ref(study, f"{key}.probe_val", spec["probe_val"])
    check_augment(f"{study.source}: {key}.probe_augment", spec["probe_augment"])
    for role in ("probe_data", "probe_val"):
        if spec[role] is not None and study.subsets[spec[role]]["split"] == "unlabeled":
            raise ConfigError(
                f"{study.source}: {key}.{role}: the probe needs labels; {spec[role]!r} is unlabelled"
            )
    if spec["probe_val"] is not None and not subsets_disjoint(
        study.subsets, spec["probe_data"], spec["probe_val"]
    ):
        raise ConfigError(
            f"{study.source}: {key}.probe_val: subset {spec['probe_val']!r} may overlap probe_data {spec['probe_data']!r}"
        )


def init_sources(study: Study) -> list[str]:
    """`<pretraining>@init` for every pretraining job: its encoder at its random initialisation."""
    return [f"{name}{AT_INIT}" for name in study.pretrain]


def check_probes(study: Study) -> None:
    sources = {PIXELS, *study.runs, *study.pretrain, *IMAGENET_SOURCES, *init_sources(study)}
    for name, probe in study.probes.items():
        key = f"{study.source}: probes.{name}"
        if probe["features"] not in sources:
            raise ConfigError(
                f"{key}.features: expected 'pixels', imagenet_<arch> (any torchvision classification "
                f"model), a run or pretraining of this study, or <pretraining>{AT_INIT} (its random "
                f"initialisation), got {probe['features']!r}; {close(probe['features'], sorted(sources))}"
            )
        for role in ("train", "test", "val"):
            check_subset_ref(study, f"probes.{name}.{role}", probe[role])
        _check_probe_val(study, name, probe)
        if probe["kind"] == "zero_shot":
            _check_zero_shot(study, name, probe)
            continue
        if not subsets_disjoint(study.subsets, probe["train"], probe["test"]):
            raise ConfigError(
                f"{key}.test: subset {probe['test']!r} may overlap the training subset {probe['train']!r}"
            )
        if probe["kind"] == "logistic" and num_classes(study.subsets[probe["train"]]) != 2:
            raise ConfigError(
                f"{key}.kind: logistic is binary but {probe['train']!r} has more than 2 classes"
            )


def _check_probe_val(study: Study, name: str, probe: dict) -> None:
    """The validation subset (solver minibatch_gd's, the schema says) is apart from the training
    and test subsets and has their classes."""
    key = f"{study.source}: probes.{name}"
    if probe["val"] is None:
        return
    for role in ("train", "test"):
        if probe[role] is not None and not subsets_disjoint(study.subsets, probe[role], probe["val"]):
            raise ConfigError(
                f"{key}.val: subset {probe['val']!r} may overlap the {role} subset {probe[role]!r}; "
                "add it to `exclude` of one of them"
            )
    if probe["train"] is not None and num_classes(study.subsets[probe["val"]]) != num_classes(
        study.subsets[probe["train"]]
    ):
        raise ConfigError(
            f"{key}.val: subset {probe['val']!r} has other classes than the training subset {probe['train']!r}"
        )


def _check_zero_shot(study: Study, name: str, probe: dict) -> None:
    key = f"{study.source}: probes.{name}"
    try:
        class_map = class_maps.load_class_map(probe["class_map"])
    except ValueError as error:
        raise ConfigError(f"{key}.class_map: {error}") from None
    test_classes = num_classes(study.subsets[probe["test"]])
    if len(class_map.target_classes) != test_classes:
        raise ConfigError(
            f"{key}.class_map: {probe['class_map']!r} maps onto {len(class_map.target_classes)} classes, "
            f"the test subset {probe['test']!r} has {test_classes}"
        )


def check_imagenet_weights(study: Study) -> None:
    """The study's `imagenet_weights` exist for every arch it loads ImageNet weights into."""
    version = study.spec["imagenet_weights"]
    if version == "DEFAULT":
        return
    uses = {
        (run["model"]["arch"], f"runs.{name}")
        for name, run in study.runs.items()
        if run["init"] == "imagenet"
    }
    uses |= {
        (probe["features"].removeprefix("imagenet_"), f"probes.{name}")
        for name, probe in study.probes.items()
        if probe["features"] in IMAGENET_SOURCES
    }
    for arch, where in sorted(uses):
        try:
            resolve_weights(arch, version)
        except ValueError as error:
            named = f"weights for {arch}"
            raise ConfigError(
                f"{study.source}: imagenet_weights: {str(error).replace(named, f'{named} ({where})', 1)}"
            ) from None


def check_steps(study: Study, sizes: dict[str, int]) -> None:
    """A run or pretraining that counts `steps` has the epochs those steps start (`sizes`: the
    images of each subset), so its schedule, history and resume points stay per epoch."""
    for section, data_key in (("runs", "train"), ("pretrain", "data")):
        for name, job in getattr(study, section).items():
            if job["steps"] is None:
                continue
            images = sizes[job[data_key]]
            per_epoch = steps_per_epoch(images, job["batch_size"])
            need = math.ceil(job["steps"] / per_epoch)
            if job["epochs"] != need:
                raise ConfigError(
                    f"{study.source}: {section}.{name}.epochs: {job['steps']} steps of {per_epoch} batches "
                    f"per epoch ({images} images of {job[data_key]!r} at batch {job['batch_size']}) take "
                    f"{need} epochs, not {job['epochs']}"
                )


def check_batch_fits(study: Study, sizes: dict[str, int]) -> None:
    """A batch larger than the subset it draws from makes an epoch one short batch (5000 on 500
    images: one optimizer step per epoch) -- nearly always a slip, so it is refused with the
    numbers. A rehearsal cuts subsets to a few images on purpose and is not checked."""
    if study.rehearsal_of is not None:
        return
    for section, data_key in (("runs", "train"), ("pretrain", "data")):
        for name, job in getattr(study, section).items():
            images = sizes[job[data_key]]
            if job["batch_size"] > images:
                raise ConfigError(
                    f"{study.source}: {section}.{name}.batch_size: {job['batch_size']} is larger than "
                    f"subset {job[data_key]!r} ({images} images), so an epoch would be one batch of {images} "
                    f"(1 optimizer step, {job['epochs']} in all); set batch_size to at most {images}"
                )
