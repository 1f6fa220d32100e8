"""Every dataset the studies use, by name: the built-in ones (one module each in
cvrepro/data/builtin, found by discovery) and those a study declares (cvrepro/data/sources adds
them while Snakemake parses the workflow). What the config checks and the rules ask of a dataset.
"""

from __future__ import annotations

from pathlib import Path

from cvrepro.data.builtin import BUILTIN
from cvrepro.data.datasets.spec import DatasetSpec

DATASETS: dict[str, DatasetSpec] = {name: kind.spec for name, kind in BUILTIN.items()}
# Class names of the datasets whose names are fixed (the others are read from their files when
# prepared, and an activation figure's unknown class is then the job's error).
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    name: kind.class_names for name, kind in BUILTIN.items() if kind.class_names is not None
}


def get_dataset(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None


def num_classes(subset: dict) -> int:
    """The classes of a study's subset: its `classes`, else all of its dataset's."""
    return subset["classes"] or DATASETS[subset["dataset"]].num_classes


def class_problem(subset: dict, name: str) -> str | None:
    """Why `name` is not a class of a study's subset (its first `classes` ones), or None (also
    where the dataset's names are only known once prepared)."""
    known = CLASS_NAMES.get(subset["dataset"])
    known = known[: subset["classes"]] if known and subset["classes"] else known
    if known is None or name in known:
        return None
    return f"{subset['dataset']} has no class {name!r} in this subset; classes: {', '.join(known)}"


def corruption_names(source: str) -> tuple[str, ...]:
    """The corruptions a shift set of `source` can name: the pipeline's own (generated) or the
    published set's files (its splits, one per corruption)."""
    from cvrepro.study.names import CORRUPTIONS

    return CORRUPTIONS if source == "generated" else tuple(DATASETS[source].splits)


def shift_conditions(shift_set: dict) -> list[str]:
    """A study's shift set's conditions as '<corruption>-<severity>' names, in a fixed order."""
    corruptions = shift_set["corruptions"]
    if corruptions == ["all"]:
        corruptions = corruption_names(shift_set["source"])
    return [f"{c}-{s}" for c in corruptions for s in shift_set["severities"]]


def source_dirs(config: dict, dataset: str) -> list[str]:
    """The folder the config names where the dataset's files may already be (datasets.<name>.source_dir)."""
    settings = config["datasets"].get(dataset)
    return [settings["source_dir"]] if settings and settings["source_dir"] else []


def settings_problem(name: str, settings: dict) -> tuple[str, str] | None:
    """(key inside `datasets.<name>`, one line) of the first problem with the config's settings of
    a dataset (its files' directory, its preparation options), or None."""
    if name not in DATASETS:
        return "", f"unknown dataset; known: {', '.join(sorted(DATASETS))}"
    source_dir = settings["source_dir"]
    if source_dir is not None and not Path(source_dir).is_dir():
        return ".source_dir", (
            f"{source_dir!r} is not a directory (relative paths start at the working directory, {Path.cwd()})"
        )
    allowed = DATASETS[name].options
    for key in settings["options"]:
        if key not in allowed:
            return f".options.{key}", f"unknown option; allowed: {', '.join(sorted(allowed)) or 'none'}"
    return None


def dataset_options(config: dict, dataset: str) -> dict:
    """The dataset's preparation options: the registry's defaults overridden by the config."""
    settings = config["datasets"].get(dataset)  # filled by the schema when the config names it
    return {**DATASETS[dataset].options, **(settings["options"] if settings else {})}
