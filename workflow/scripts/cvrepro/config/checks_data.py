"""Config checks of the data sections: subsets (references, cycles, sizes), shift sets and BN
sweeps, and the disjointness rules that keep training and test images apart."""

from __future__ import annotations

from collections.abc import Iterable

from cvrepro.config.schema import ConfigError, check_named
from cvrepro.data.datasets.registry import DATASETS, corruption_names, get_dataset
from cvrepro.study import Study


def check_subset_ref(study: Study, key: str, ref: str | None) -> None:
    if ref is not None:
        check_named(f"{study.source}: {key}", "subset", ref, study.subsets)


def topological_order(edges: dict[str, Iterable[str | None]], where: str, what: str) -> list[str]:
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


def subset_order(subsets: dict, source: str) -> list[str]:
    """Subset names, each after those it is drawn within or excludes; a cycle is a ConfigError."""
    edges = {name: [s["within"], *s["exclude"]] for name, s in subsets.items()}
    return topological_order(edges, f"{source}: subsets", "within/exclude")


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


def _check_subset(study: Study, name: str, subset: dict) -> None:
    key = f"{study.source}: subsets.{name}"
    try:
        dataset = get_dataset(subset["dataset"])
    except KeyError as error:
        raise ConfigError(f"{key}.dataset: {error.args[0]}") from None
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
        check_named(f"{key}.{ref_key}", "subset", ref, study.subsets)
        other = study.subsets[ref]
        if (other["dataset"], other["split"]) != (subset["dataset"], subset["split"]):
            raise ConfigError(
                f"{key}.{ref_key}: {ref!r} draws from {other['dataset']}/{other['split']}, "
                f"not {subset['dataset']}/{subset['split']}"
            )


def _overlaps_pool(subsets: dict, ref: str, within: str | None) -> bool:
    """Whether excluded subset `ref` can take images from the pool (the split, or `within`)."""
    return within is None or ref == within or not subsets_disjoint(subsets, ref, within)


def _check_sizes(study: Study, order: list[str]) -> dict[str, int]:
    """Each subset's size against what its split, `within` and `exclude` leave, in dependency order.

    The pool is the split (or `within`) minus every excluded subset, so the images certainly
    available are its size minus the sizes of the excluded subsets that may lie in it (one
    drawn from outside `within` takes nothing from it). An empty pool is an error here, not a
    division by zero inside a job.
    """
    subsets, available = study.subsets, {}
    for name in order:
        subset = subsets[name]
        dataset = DATASETS[subset["dataset"]]
        n = dataset.splits[subset["split"]]
        if subset["classes"] is not None and dataset.balanced:
            n = n * subset["classes"] // dataset.num_classes
        within = subset["within"]
        if within is not None:
            n = min(n, available[within])
        n_excluded = sum(available[ref] for ref in subset["exclude"] if _overlaps_pool(subsets, ref, within))
        limit = max(n - n_excluded, 0)
        size = subset["size"]
        source = f"{dataset.name}/{subset['split']}" if within is None else f"subset {within!r}"
        after = " after exclusions" if n_excluded else ""
        if size is not None and size > limit:
            raise ConfigError(
                f"{study.source}: subsets.{name}.size: {size} images requested but {source} has only "
                f"{limit} available{after}"
            )
        if size is None and limit == 0:
            raise ConfigError(f"{study.source}: subsets.{name}: no images left in {source}{after}")
        available[name] = size if size is not None else limit
    return available


def check_subsets(study: Study) -> dict[str, int]:
    """Check every subset; return the images each holds (an unsized one: what its split, within
    and exclude leave, counted from the real split sizes)."""
    for name, subset in study.subsets.items():
        _check_subset(study, name, subset)
    return _check_sizes(study, subset_order(study.subsets, study.source))


def check_shift_sets(study: Study) -> None:
    for name, shift_set in study.shift_sets.items():
        key = f"{study.source}: shift_sets.{name}"
        check_subset_ref(study, f"shift_sets.{name}.subset", shift_set["subset"])
        known = corruption_names(shift_set["source"])
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


def check_bn_sweeps(study: Study) -> None:
    for name, sweep in study.bn_sweeps.items():
        key = f"{study.source}: bn_sweeps.{name}"
        check_named(f"{key}.shift_set", "shift set", sweep["shift_set"], study.shift_sets)
        for run in sweep["runs"]:
            check_named(f"{key}.runs", "run", run, study.names("runs"))
            source = study.shift_sets[sweep["shift_set"]]["subset"]
            if not subsets_disjoint(study.subsets, study.runs[study.jobs(run)[0]]["train"], source):
                raise ConfigError(
                    f"{key}.shift_set: its subset {source!r} may overlap the training subset of {run!r}"
                )
