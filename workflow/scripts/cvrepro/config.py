"""Load, complete and check the workflow configuration before Snakemake schedules anything.

Two passes: the JSON schemas (types, unknown keys, defaults) and then the checks a schema cannot
express (references between subsets/runs/tables, cycles, sizes, disjoint train/test). Every problem
is a `ConfigError` whose message is one line naming the file, the key and what was expected.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator, validators
from jsonschema.exceptions import best_match

from cvrepro import class_maps
from cvrepro.augment import resolve as augment_resolve
from cvrepro.corruptions import CORRUPTIONS
from cvrepro.datasets.readers import CIFAR_C_CORRUPTIONS
from cvrepro.datasets.registry import DATASETS
from cvrepro.models import RESNETS
from cvrepro.tables import sweep_column

INIT_KEYWORDS = ("scratch", "imagenet")
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


class ConfigError(ValueError):
    """A problem in the configuration; the message is a single line."""


@dataclass(frozen=True)
class Study:
    name: str
    source: str  # where it was defined, for error messages and the report
    spec: dict[str, Any]  # validated, defaults filled, run_defaults merged

    @property
    def subsets(self) -> dict[str, dict]:
        return self.spec["subsets"]

    @property
    def runs(self) -> dict[str, dict]:
        return self.spec["runs"]

    @property
    def pretrain(self) -> dict[str, dict]:
        return self.spec["pretrain"]

    @property
    def probes(self) -> dict[str, dict]:
        return self.spec["probes"]

    @property
    def shift_sets(self) -> dict[str, dict]:
        return self.spec["shift_sets"]

    @property
    def bn_sweeps(self) -> dict[str, dict]:
        return self.spec["bn_sweeps"]

    @property
    def tables(self) -> dict[str, dict]:
        return self.spec["tables"]

    @property
    def figures(self) -> dict[str, dict]:
        return self.spec["figures"]


def _with_defaults(validator_class):
    """A validator that fills in each property's `default` while validating (jsonschema's recipe)."""
    check_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(key, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


DefaultingValidator = _with_defaults(Draft7Validator)


def load_schema(name: str) -> dict:
    return yaml.safe_load((SCHEMA_DIR / name).read_text())


def validate(instance: dict, schema: dict, where: str) -> dict:
    """Validate a copy of `instance`, fill defaults, and return it; raise a one-line ConfigError."""
    instance = copy.deepcopy(instance)
    error = best_match(DefaultingValidator(schema).iter_errors(instance))
    if error is not None:
        key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ConfigError(f"{where}: {key}: {_short(error.message)}")
    return instance


def _short(message: str, limit: int = 200) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 3] + "..."


def deep_merge(base: dict, override: dict) -> dict:
    """`override` on top of `base`, recursing into dicts; lists and scalars are replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# ---------------------------------------------------------------------------------------------
# Top level


def load_config(config: dict, study_dir: Path) -> tuple[dict, dict[str, Study]]:
    """Validate the top-level config and every selected study; return (config, studies by name)."""
    config = validate(config, load_schema("config.schema.yaml"), "config")
    _check_dataset_settings(config["datasets"])
    definitions = _study_definitions(config["inline_studies"], Path(study_dir))
    selected = config["studies"]
    if selected == "all":
        selected = sorted(definitions)
    studies = {}
    for name in selected:
        if name not in definitions:
            raise ConfigError(
                f"config: studies: no study named {name!r}; defined: {', '.join(sorted(definitions)) or 'none'}"
            )
        source, raw = definitions[name]
        studies[name] = resolve_study(name, raw, source)
    return config, studies


def _study_definitions(inline: dict, study_dir: Path) -> dict[str, tuple[str, dict]]:
    definitions: dict[str, tuple[str, dict]] = {
        name: ("config: inline_studies." + name, spec) for name, spec in inline.items()
    }
    for path in sorted(study_dir.glob("*.yaml")) if study_dir.is_dir() else []:
        name = path.stem
        if name in definitions:
            raise ConfigError(f"{path}: study {name!r} is also defined in config inline_studies; rename one")
        try:
            spec = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {_short(str(error))}") from None
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: expected a mapping (a study), got {type(spec).__name__}")
        definitions[name] = (str(path), spec)
    for name, (source, _) in definitions.items():
        _check_name(name, source, "study name")
    return definitions


def _check_dataset_settings(settings: dict) -> None:
    for name, entry in settings.items():
        if name not in DATASETS:
            raise ConfigError(
                f"config: datasets.{name}: unknown dataset; known: {', '.join(sorted(DATASETS))}"
            )
        allowed = DATASETS[name].options
        for key in entry["options"]:
            if key not in allowed:
                raise ConfigError(
                    f"config: datasets.{name}.options.{key}: unknown option; "
                    f"allowed: {', '.join(sorted(allowed)) or 'none'}"
                )


def dataset_options(config: dict, dataset: str) -> dict:
    """The dataset's preparation options: registry defaults overridden by the config."""
    options = dict(DATASETS[dataset].options)
    options.update(config["datasets"].get(dataset, {}).get("options", {}))
    return options


def dataset_source_dirs(config: dict, dataset: str) -> list[str]:
    source = config["datasets"].get(dataset, {}).get("source_dir")
    return [source] if source else []


# ---------------------------------------------------------------------------------------------
# One study


def resolve_study(name: str, raw: dict, source: str) -> Study:
    """Merge run defaults, validate against the study schema and check cross-references."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping (a study), got {type(raw).__name__}")
    raw = copy.deepcopy(raw)
    defaults = raw.get("run_defaults") or {}
    presets = raw.get("presets") or {}
    if isinstance(raw.get("runs"), dict) and isinstance(defaults, dict) and isinstance(presets, dict):
        raw["runs"] = {
            run: _merged_run(spec, defaults, presets, f"{source}: runs.{run}")
            if isinstance(spec, dict)
            else spec
            for run, spec in raw["runs"].items()
        }
    spec = validate(raw, load_schema("study.schema.yaml"), source)
    study = Study(name=name, source=source, spec=spec)
    for kind in ("subsets", "runs", "pretrain", "probes", "shift_sets", "bn_sweeps", "tables", "figures"):
        for item in spec[kind]:
            _check_name(item, source, f"{kind}.{item}")
    for kind in ("runs", "pretrain"):
        for item in spec[kind]:
            if item in INIT_KEYWORDS:
                raise ConfigError(
                    f"{source}: {kind}.{item}: {item!r} is reserved (an `init` keyword); rename it"
                )
    _check_subsets(study)
    _check_pretrain(study)
    _check_runs(study)
    _check_probes(study)
    _check_shifts(study)
    _check_outputs(study)
    return study


def _merged_run(run: dict, defaults: dict, presets: dict, key: str) -> dict:
    """run_defaults, then each preset the run names, then the run's own values."""
    names = run.pop("preset", [])
    merged = defaults
    for preset in [names] if isinstance(names, str) else names:
        if preset not in presets:
            raise ConfigError(
                f"{key}.preset: no preset named {preset!r}; defined: {', '.join(presets) or 'none'}"
            )
        merged = deep_merge(merged, presets[preset])
    return deep_merge(merged, run)


def _check_name(name: str, source: str, key: str) -> None:
    if not SAFE_NAME.match(name):
        raise ConfigError(
            f"{source}: {key}: {name!r} is not a safe file name "
            "(letters, digits, '_', '-', '.', starting with a letter or digit)"
        )


def _check_subsets(study: Study) -> None:
    subsets = study.subsets
    for name, subset in subsets.items():
        key = f"{study.source}: subsets.{name}"
        dataset = DATASETS.get(subset["dataset"])
        if dataset is None:
            raise ConfigError(
                f"{key}.dataset: unknown dataset {subset['dataset']!r}; known: {', '.join(sorted(DATASETS))}"
            )
        if subset["split"] not in dataset.splits:
            raise ConfigError(
                f"{key}.split: {dataset.name} has no split {subset['split']!r}; it has {', '.join(dataset.splits)}"
            )
        if subset["classes"] is not None and subset["classes"] > dataset.num_classes:
            raise ConfigError(
                f"{key}.classes: {subset['classes']} > the {dataset.num_classes} classes of {dataset.name}"
            )
        for ref_key, ref in [("within", subset["within"])] + [("exclude", r) for r in subset["exclude"]]:
            if ref is None:
                continue
            if ref not in subsets:
                raise ConfigError(f"{key}.{ref_key}: no subset named {ref!r}; defined: {', '.join(subsets)}")
            other = subsets[ref]
            if (other["dataset"], other["split"]) != (subset["dataset"], subset["split"]):
                raise ConfigError(
                    f"{key}.{ref_key}: {ref!r} draws from {other['dataset']}/{other['split']}, "
                    f"not {subset['dataset']}/{subset['split']}"
                )
    order = _topological_order(
        {name: [s["within"], *s["exclude"]] for name, s in subsets.items()},
        f"{study.source}: subsets",
        "within/exclude",
    )
    # Sizes, in dependency order, so that `within` limits are known.
    available: dict[str, int] = {}
    for name in order:
        subset = subsets[name]
        dataset = DATASETS[subset["dataset"]]
        n = dataset.splits[subset["split"]]
        if subset["classes"] is not None and dataset.balanced:
            n = n * subset["classes"] // dataset.num_classes
        if subset["within"] is not None:
            n = min(n, available[subset["within"]])
        n_excluded = sum(available[ref] for ref in subset["exclude"] if ref != subset["within"])
        limit = n - n_excluded if subset["within"] is None else n
        size = subset["size"]
        if size is not None and size > limit:
            source = (
                f"{dataset.name}/{subset['split']}"
                if subset["within"] is None
                else f"subset {subset['within']!r}"
            )
            raise ConfigError(
                f"{study.source}: subsets.{name}.size: {size} images requested but {source} has only {limit} "
                f"available{' after exclusions' if n_excluded else ''}"
            )
        available[name] = size if size is not None else max(limit, 0)


def _topological_order(edges: dict[str, Iterable[str | None]], where: str, what: str) -> list[str]:
    """Names ordered so that each comes after those it depends on; a cycle is a ConfigError."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "active":
            cycle = path[path.index(name) :] + [name]
            raise ConfigError(f"{where}: cycle in {what}: {' -> '.join(cycle)}")
        state[name] = "active"
        for dep in edges.get(name, ()):
            if dep is not None and dep in edges:
                visit(dep, path + [name])
        state[name] = "done"
        order.append(name)

    for name in edges:
        visit(name, [])
    return order


def _ancestors(subsets: dict, name: str) -> set[str]:
    """`name` and every subset it is drawn within."""
    chain = set()
    while name is not None and name not in chain:
        chain.add(name)
        name = subsets[name]["within"]
    return chain


def subsets_disjoint(subsets: dict, a: str, b: str) -> bool:
    """True when the config guarantees that subsets a and b share no image."""
    sa, sb = subsets[a], subsets[b]
    if (sa["dataset"], sa["split"]) != (sb["dataset"], sb["split"]):
        return True
    chain_a, chain_b = _ancestors(subsets, a), _ancestors(subsets, b)
    excluded_by_a = {ex for s in chain_a for ex in subsets[s]["exclude"]}
    excluded_by_b = {ex for s in chain_b for ex in subsets[s]["exclude"]}
    # a is drawn from outside some ancestor of b (or the reverse): nothing in common.
    return bool(excluded_by_a & chain_b) or bool(excluded_by_b & chain_a)


def _check_runs(study: Study) -> None:
    runs, subsets = study.runs, study.subsets
    for name, run in runs.items():
        key = f"{study.source}: runs.{name}"
        for role in ("train", "val", "test"):
            ref = run[role]
            if ref is not None and ref not in subsets:
                raise ConfigError(f"{key}.{role}: no subset named {ref!r}; defined: {', '.join(subsets)}")
        for role in ("val", "test"):
            ref = run[role]
            if ref is not None and not subsets_disjoint(subsets, run["train"], ref):
                raise ConfigError(
                    f"{key}.{role}: subset {ref!r} may overlap the training subset {run['train']!r} "
                    f"(same {subsets[ref]['dataset']}/{subsets[ref]['split']}); add it to `exclude` of one of them"
                )
        train_classes = num_classes(subsets[run["train"]])
        for role in ("val", "test"):
            ref = run[role]
            if ref is not None and num_classes(subsets[ref]) != train_classes:
                raise ConfigError(
                    f"{key}.{role}: subset {ref!r} has {num_classes(subsets[ref])} classes, "
                    f"the training subset {train_classes}"
                )
        try:
            augment_resolve(run["augment"])
        except ValueError as error:
            raise ConfigError(f"{key}.augment: {error}") from None
        model = run["model"]
        if run["init"] == "imagenet" and not (
            model["arch"] in RESNETS and model["stem"] == "imagenet" and model["width"] in (None, 64)
        ):
            raise ConfigError(
                f"{key}.init: imagenet weights need a ResNet with stem: imagenet and width 64 (or null), "
                f"got {model['arch']} stem {model['stem']} width {model['width']}"
            )
        init = run["init"]
        if init not in INIT_KEYWORDS and init not in runs and init not in study.pretrain:
            raise ConfigError(
                f"{key}.init: expected 'scratch', 'imagenet' or a run or pretraining of this study, got {init!r}"
            )
    _topological_order(
        {name: [run["init"]] if run["init"] in runs else [] for name, run in runs.items()},
        f"{study.source}: runs",
        "init",
    )


def _check_subset_ref(study: Study, key: str, ref: str | None) -> None:
    if ref is not None and ref not in study.subsets:
        raise ConfigError(
            f"{study.source}: {key}: no subset named {ref!r}; defined: {', '.join(study.subsets)}"
        )


def _check_pretrain(study: Study) -> None:
    for name, spec in study.pretrain.items():
        key = f"pretrain.{name}"
        if name in study.runs:
            raise ConfigError(
                f"{study.source}: {key}: a run has the same name; runs and pretrainings share names"
            )
        _check_subset_ref(study, f"{key}.data", spec["data"])
        _check_subset_ref(study, f"{key}.probe_data", spec["probe_data"])
        if spec["method"] == "triplet" and study.subsets[spec["data"]]["split"] == "unlabeled":
            raise ConfigError(
                f"{study.source}: {key}.data: triplet pretraining needs labels; {spec['data']!r} is unlabelled"
            )
        try:
            augment_resolve(spec["augment"])
        except ValueError as error:
            raise ConfigError(f"{study.source}: {key}.augment: {error}") from None


PIXELS = "pixels"
IMAGENET_SOURCES = tuple(f"imagenet_{arch}" for arch in RESNETS)


def _check_probes(study: Study) -> None:
    sources = {PIXELS, *study.runs, *study.pretrain, *IMAGENET_SOURCES}
    for name, probe in study.probes.items():
        key = f"{study.source}: probes.{name}"
        if probe["features"] not in sources:
            raise ConfigError(
                f"{key}.features: expected 'pixels', {', '.join(IMAGENET_SOURCES)}, or a run or pretraining "
                f"of this study, got {probe['features']!r}"
            )
        if probe["features"] == PIXELS and probe["layer"] != "penultimate":
            raise ConfigError(f"{key}.layer: raw pixels have no layers")
        for role in ("train", "test"):
            _check_subset_ref(study, f"probes.{name}.{role}", probe[role])
        if probe["kind"] == "zero_shot":
            _check_zero_shot(study, name, probe)
            continue
        if probe["train"] is None:
            raise ConfigError(f"{key}.train: required for kind {probe['kind']} (only zero_shot fits nothing)")
        if probe["class_map"] is not None:
            raise ConfigError(f"{key}.class_map: only used by kind zero_shot")
        if not subsets_disjoint(study.subsets, probe["train"], probe["test"]):
            raise ConfigError(
                f"{key}.test: subset {probe['test']!r} may overlap the training subset {probe['train']!r}"
            )
        if probe["kind"] == "logistic" and num_classes(study.subsets[probe["train"]]) != 2:
            raise ConfigError(
                f"{key}.kind: logistic is binary but {probe['train']!r} has more than 2 classes"
            )


def _check_zero_shot(study: Study, name: str, probe: dict) -> None:
    key = f"{study.source}: probes.{name}"
    if probe["class_map"] is None:
        raise ConfigError(
            f"{key}.class_map: required for kind zero_shot; available: {', '.join(class_maps.available())}"
        )
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


def known_corruptions(shift_set: dict) -> tuple[str, ...]:
    return tuple(sorted(CORRUPTIONS)) if shift_set["source"] == "generated" else CIFAR_C_CORRUPTIONS


def shift_conditions(shift_set: dict) -> list[str]:
    """The shift set's conditions as '<corruption>-<severity>' names, in a fixed order."""
    corruptions = shift_set["corruptions"]
    if corruptions == ["all"]:
        corruptions = known_corruptions(shift_set)
    return [f"{c}-{s}" for c in corruptions for s in shift_set["severities"]]


def _check_shifts(study: Study) -> None:
    for name, shift_set in study.shift_sets.items():
        key = f"{study.source}: shift_sets.{name}"
        _check_subset_ref(study, f"shift_sets.{name}.subset", shift_set["subset"])
        known = known_corruptions(shift_set)
        unknown = [c for c in shift_set["corruptions"] if c != "all" and c not in known]
        if unknown:
            raise ConfigError(
                f"{key}.corruptions: unknown corruption {unknown[0]!r} for source {shift_set['source']}; "
                f"choose from all, {', '.join(known)}"
            )
        if shift_set["source"] != "generated":
            clean = shift_set["source"].removesuffix("_c")
            subset = study.subsets[shift_set["subset"]]
            if (subset["dataset"], subset["split"]) != (clean, "test"):
                raise ConfigError(
                    f"{key}.source: {shift_set['source']} corrupts {clean}/test, but subset "
                    f"{shift_set['subset']!r} is {subset['dataset']}/{subset['split']}"
                )
    for name, sweep in study.bn_sweeps.items():
        key = f"{study.source}: bn_sweeps.{name}"
        if sweep["shift_set"] not in study.shift_sets:
            raise ConfigError(f"{key}.shift_set: no shift set named {sweep['shift_set']!r}")
        for run in sweep["runs"]:
            if run not in study.runs:
                raise ConfigError(f"{key}.runs: no run named {run!r}; defined: {', '.join(study.runs)}")
            source = study.shift_sets[sweep["shift_set"]]["subset"]
            if not subsets_disjoint(study.subsets, study.runs[run]["train"], source):
                raise ConfigError(
                    f"{key}.shift_set: its subset {source!r} may overlap the training subset of {run!r}"
                )


# Figures drawn from test-set metrics, which runs (evaluations) and probes both have.
METRIC_FIGURES = ("confusion", "roc", "class_accuracy")


def num_classes(subset: dict) -> int:
    return subset["classes"] or DATASETS[subset["dataset"]].num_classes


def _check_outputs(study: Study) -> None:
    runs = study.runs
    for name, figure in study.figures.items():
        key = f"{study.source}: figures.{name}"
        allowed = runs
        if figure["kind"] in METRIC_FIGURES:
            allowed = {**runs, **study.probes}
        elif figure["kind"] == "training_curves":
            allowed = {**runs, **study.pretrain}
        for run in figure["runs"]:
            if run not in allowed:
                raise ConfigError(f"{key}.runs: no run named {run!r}; defined: {', '.join(allowed)}")
        needs = {
            "training_curves": ["runs"],
            "tsne": ["features", "subset"],
            "augmented_pairs": ["subset"],
            "bn_sweep": ["sweep"],
            "confusion": ["runs"],
            "roc": ["runs"],
            "class_accuracy": ["runs"],
            "grad_flow": ["runs"],
            "samples": ["subset"],
            "activations": ["runs", "subset", "layers"],
        }
        for field in needs[figure["kind"]]:
            if not figure[field]:
                raise ConfigError(f"{key}.{field}: required for kind {figure['kind']}")
        if figure["kind"] == "activations" and len(figure["runs"]) != 1:
            raise ConfigError(f"{key}.runs: activations draws one run, got {len(figure['runs'])}")
        if figure["subset"] is not None:
            _check_subset_ref(study, f"figures.{name}.subset", figure["subset"])
        if figure["sweep"] is not None and figure["sweep"] not in study.bn_sweeps:
            raise ConfigError(f"{key}.sweep: no BN sweep named {figure['sweep']!r}")
        if figure["features"] is not None and figure["features"] not in {PIXELS, *runs, *study.pretrain}:
            raise ConfigError(
                f"{key}.features: expected 'pixels' or a run or pretraining, got {figure['features']!r}"
            )
        try:
            augment_resolve(figure["augment"])
        except ValueError as error:
            raise ConfigError(f"{key}.augment: {error}") from None
    for name, table in study.tables.items():
        if table["sweep"] is not None:
            _check_sweep_table(study, name, table)
            continue
        kinds = (("runs", runs), ("pretrain", study.pretrain), ("probes", study.probes))
        for kind, defined in kinds:
            for row in table[kind]:
                if row not in defined:
                    raise ConfigError(
                        f"{study.source}: tables.{name}.{kind}: no {kind.rstrip('s')} named {row!r}; "
                        f"defined: {', '.join(defined) or 'none'}"
                    )
        if table["test"] is not None:
            _check_table_test(study, name, table)
        rows = table["runs"] + table["pretrain"] + table["probes"]
        if not rows:
            raise ConfigError(
                f"{study.source}: tables.{name}: needs at least one of `runs`, `pretrain`, `probes`"
            )
        _check_reported(study, name, table, rows, table["columns"])


def _check_table_test(study: Study, name: str, table: dict) -> None:
    key = f"{study.source}: tables.{name}.test"
    _check_subset_ref(study, f"tables.{name}.test", table["test"])
    for run in table["runs"]:
        train = study.runs[run]["train"]
        if not subsets_disjoint(study.subsets, train, table["test"]):
            raise ConfigError(f"{key}: subset {table['test']!r} may overlap the training subset of {run!r}")
        if num_classes(study.subsets[table["test"]]) != num_classes(study.subsets[train]):
            raise ConfigError(
                f"{key}: subset {table['test']!r} has other classes than run {run!r} was trained on"
            )


def _check_sweep_table(study: Study, name: str, table: dict) -> None:
    key = f"{study.source}: tables.{name}"
    sweep = study.bn_sweeps.get(table["sweep"])
    if sweep is None:
        raise ConfigError(
            f"{key}.sweep: no BN sweep named {table['sweep']!r}; defined: {', '.join(study.bn_sweeps) or 'none'}"
        )
    for mode in table["modes"]:
        if mode not in sweep["modes"]:
            raise ConfigError(f"{key}.modes: the sweep {table['sweep']!r} does not run mode {mode!r}")
    if table["order"] not in sweep["orders"]:
        raise ConfigError(f"{key}.order: the sweep {table['sweep']!r} does not run order {table['order']!r}")
    rows = [str(size) for size in sweep["batch_sizes"]]
    columns = [sweep_column(mode, run) for mode in table["modes"] for run in sweep["runs"]]
    _check_reported(study, name, table, rows, columns)


def _check_reported(study: Study, name: str, table: dict, rows: list[str], columns: list[str]) -> None:
    for row, values in table["reported"].items():
        if str(row) not in rows:
            raise ConfigError(
                f"{study.source}: tables.{name}.reported.{row}: not a row of this table ({', '.join(rows)})"
            )
        for column in values:
            if column not in columns:
                raise ConfigError(
                    f"{study.source}: tables.{name}.reported.{row}.{column}: not a column of this table "
                    f"({', '.join(columns)})"
                )
