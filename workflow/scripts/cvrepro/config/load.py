"""Load the configuration: the top-level file, every selected study (inline or studies/*.yaml),
run_defaults and presets merged under each run, defaults filled by the schemas, then the checks
a schema cannot express (cvrepro.config.checks). Every problem is a one-line ConfigError."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

from cvrepro.config.checks import check_study
from cvrepro.config.expand import expand_study
from cvrepro.config.rehearsal import rehearsal_study
from cvrepro.config.schema import (
    ConfigError,
    check_name,
    check_named,
    check_partial,
    definition,
    load_schema,
    validate,
)
from cvrepro.config.yamlfile import read_yaml
from cvrepro.data.datasets.registry import settings_problem
from cvrepro.data.sources import SourceError, declare
from cvrepro.study import Study
from cvrepro.train.methods import foreign_key


def deep_merge(base: dict, override: dict) -> dict:
    """`override` on top of `base`, recursing into dicts; lists and scalars are replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_config(config: dict, study_dir: Path) -> tuple[dict, dict[str, Study]]:
    """Validate the top-level config and every selected study; return (config, studies by name)."""
    schema = load_schema("config.schema.yaml")
    config = validate(_command_line_booleans(config, schema), schema, "config")
    for dataset, settings in config["datasets"].items():
        if problem := settings_problem(dataset, settings):
            raise ConfigError(f"config: datasets.{dataset}{problem[0]}: {problem[1]}")
    definitions = _study_definitions(config["inline_studies"], Path(study_dir))
    selected = config["studies"]
    if selected == "all":
        selected = sorted(definitions)
    studies = {}
    for name in selected:
        check_named("config: studies", "study", name, sorted(definitions))
        source, raw = definitions[name]
        check_name(name, f"{source}: study name")
        studies[name] = resolve_study(name, read_yaml(raw) if isinstance(raw, Path) else raw, source)
        if config["rehearsal"]:
            studies[name] = rehearsal_study(studies[name])
            check_study(studies[name])
    return config, studies


def _command_line_booleans(config: dict, schema: dict) -> dict:
    """`--config rehearsal=true` as users write it: Snakemake turns only True and False into
    booleans, so a top-level boolean key given as true/false/yes/no (any case) is taken as one."""
    words = {"true": True, "yes": True, "false": False, "no": False}
    booleans = [key for key, prop in schema["properties"].items() if prop.get("type") == "boolean"]
    return {
        key: words[value.lower()]
        if key in booleans and isinstance(value, str) and value.lower() in words
        else value
        for key, value in config.items()
    }


def _study_definitions(inline: dict, study_dir: Path) -> dict[str, tuple[str, dict | Path]]:
    """Study name -> (where it is defined, its spec or the file that holds it).

    A file is read only when its study is selected (`studies: all` selects every file), so a
    broken or half-written study file names itself when it is used and blocks no other study.
    Hidden files (.#name.yaml: an editor's lock, often a dangling link) are not studies.
    """
    definitions: dict[str, tuple[str, dict | Path]] = {
        name: ("config: inline_studies." + name, spec) for name, spec in inline.items()
    }
    for path in sorted(study_dir.glob("*.yaml")) if study_dir.is_dir() else []:
        name = path.stem
        if name.startswith("."):
            continue
        if name in definitions:
            raise ConfigError(f"{path}: study {name!r} is also defined in config inline_studies; rename one")
        definitions[name] = (str(path), path)
    return definitions


def merged_run(run: dict, defaults: dict, presets: dict, key: str) -> dict:
    """run_defaults, then each preset the run names, then the run's own values."""
    run = dict(run)
    names = run.pop("preset", [])
    merged = defaults
    for preset in [names] if isinstance(names, str) else names:
        check_named(f"{key}.preset", "preset", preset, presets)
        merged = deep_merge(merged, presets[preset])
    return deep_merge(merged, run)


def resolve_study(name: str, raw: dict, source: str) -> Study:
    """Merge run defaults, validate against the study schema (names included: its
    `propertyNames`) and check cross-references."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping (a study), got {type(raw).__name__}")
    raw = copy.deepcopy(raw)
    defaults = raw.get("run_defaults") or {}
    presets = raw.get("presets") or {}
    # Each is checked where it is written, even where every run overrides what it sets.
    if isinstance(defaults, dict):
        check_partial(defaults, definition("run"), f"{source}: run_defaults")
    for preset, settings in presets.items() if isinstance(presets, dict) else ():
        if isinstance(settings, dict):
            check_partial(settings, definition("run"), f"{source}: presets.{preset}")
    if isinstance(raw.get("runs"), dict) and isinstance(defaults, dict) and isinstance(presets, dict):
        raw["runs"] = {
            run: merged_run(spec, defaults, presets, f"{source}: runs.{run}")
            if isinstance(spec, dict)
            else spec
            for run, spec in raw["runs"].items()
        }
    pretrain = raw.get("pretrain")
    for job, settings in pretrain.items() if isinstance(pretrain, dict) else ():
        if isinstance(settings, dict) and (problem := foreign_key(settings)):
            raise ConfigError(f"{source}: pretrain.{job}.{problem[0]}: {problem[1]}")
    spec = expand_study(validate(raw, load_schema("study.schema.yaml"), source), source)
    for dataset, entry in spec["datasets"].items():  # its own datasets join the registry
        try:
            declare(dataset, entry, source)
        except SourceError as error:
            raise ConfigError(f"{source}: {error}") from None
    study = Study(name=name, source=source, spec=spec)
    return replace(study, sizes=check_study(study))
