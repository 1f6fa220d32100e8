"""What each job receives: a run, pretraining or probe exactly as the schema filled it, minus the
names of its subsets (their files are the job's inputs, so renaming a subset reruns nothing).
The `*_params` functions are what the rules pass as params (a change reruns the job); the
`*_recipe` functions build the same dicts from a few keys, for tests and benchmarks."""

from __future__ import annotations

from cvrepro.config.schema import definition, validate
from cvrepro.study import Study

# Keys that name subsets or features rather than set how a job computes.
RUN_SUBSETS = ("train", "val", "test")
PRETRAINING_SUBSETS = ("data", "probe_data", "probe_val")
PROBE_SOURCES = ("features", "layer", "train", "test", "val")


def _without(spec: dict, keys: tuple[str, ...]) -> dict:
    return {key: value for key, value in spec.items() if key not in keys}


def _split(study: Study, subset: str | None) -> str | None:
    return study.subsets[subset]["split"] if subset is not None else None


def run_params(study: Study, name: str) -> dict:
    """The run as train.py's main() takes it: without its subset names."""
    return _without(study.runs[name], RUN_SUBSETS)


def run_splits(study: Study, name: str) -> dict[str, str | None]:
    """The split of each subset the run's job reads (train, val)."""
    return {role: _split(study, study.runs[name][role]) for role in ("train", "val")}


def pretraining_params(study: Study, name: str) -> dict:
    return _without(study.pretrain[name], PRETRAINING_SUBSETS)


def pretraining_splits(study: Study, name: str) -> dict[str, str | None]:
    return {role: _split(study, study.pretrain[name][role]) for role in PRETRAINING_SUBSETS}


def probe_params(study: Study, name: str) -> dict:
    return _without(study.probes[name], PROBE_SOURCES)


def _recipe(name: str, keys: dict, subsets: tuple[str, ...]) -> dict:
    """Validated with every default filled, without the rules between keys (the subsets are
    placeholders), minus the subset names: what a rule's params hold."""
    return _without(validate(keys, definition(name), f"{name}_recipe", between_keys=False), subsets)


def run_recipe(**keys) -> dict:
    """A complete run recipe from the keys given, as run_params makes it: what train.py's main() takes."""
    return _recipe("run", {"train": "train", "test": "test", **keys}, RUN_SUBSETS)


def pretraining_recipe(**keys) -> dict:
    return _recipe("pretraining", {"data": "data", **keys}, PRETRAINING_SUBSETS)


def probe_recipe(**keys) -> dict:
    return _recipe("probe", {"features": "pixels", "test": "test", **keys}, PROBE_SOURCES)
