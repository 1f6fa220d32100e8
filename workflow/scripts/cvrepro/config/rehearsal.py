"""A study's rehearsal: the same study cut to run in minutes on the synthetic datasets.

Everything a study declares keeps its structure: the same subsets with the same relations
(`within`, `exclude`, `classes`, seeds, stratification), the same runs, pretrainings, probes,
grids, replicates, comparisons, shift sets, BN sweeps, tables and figures, so the rehearsal's DAG
has exactly the real run's jobs. Only sizes change: each subset shrinks to half its proportional
part of the synthetic split (cvrepro.data.datasets.synthetic), every training and pretraining runs one epoch
(its schedule keeps the study's length, so a warm-up stays inside it), and every probe a few
iterations (a PCA's components and a kNN's neighbours at most the images it fits on). The study
it rehearses stays attached (`Study.rehearsal_of`) for the cost estimate.
"""

from __future__ import annotations

import copy

from cvrepro.config.checks_data import subset_order
from cvrepro.config.schema import ConfigError
from cvrepro.data.datasets.registry import DATASETS, num_classes
from cvrepro.study import REHEARSAL, Study

# A subset keeps this share of its proportional part of the synthetic split, and at least
# MIN_SUBSET images: enough to batch, small enough that S1's BN sweeps (16 conditions x 5 test
# batch sizes x 2 orders) take a minute on one CPU core.
SHARE = 0.5
MIN_SUBSET = 4
PROBE_ITERATIONS = 10  # mini-batch gradient-descent steps of a rehearsed probe
SOLVER_ITERATIONS = 50  # iteration limit of a rehearsed scikit-learn solver


def rehearsal_study(study: Study) -> Study:
    """The rehearsal of `study` (validated and expanded): see the module docstring."""
    spec = copy.deepcopy(study.spec)
    # A figure that shows named classes of a subset needs each of them drawn into it.
    every_class = {figure["subset"] for figure in spec["figures"].values() if figure["classes"]}
    # A BN sweep's shift set needs one full batch of its smallest test batch size and a partial
    # one (two images, for batch statistics), no more: each of its conditions is evaluated at
    # every batch size, mode and order (S1: 16 conditions x 5 x 3 x 2).
    caps: dict[str, int] = {}
    for sweep in spec["bn_sweeps"].values():
        subset = spec["shift_sets"][sweep["shift_set"]]["subset"]
        caps[subset] = min(caps.get(subset, 10**9), min(sweep["batch_sizes"]) + 2)
    sizes = _cut_subsets(spec["subsets"], study.source, every_class, caps)
    for section in ("runs", "pretrain"):
        for job in spec[section].values():
            _one_epoch(job)
    for probe in spec["probes"].values():
        _few_iterations(probe, sizes)
    return Study(study.name, study.source, spec, layout=REHEARSAL, rehearsal_of=study, sizes=sizes)


def _one_epoch(job: dict) -> None:
    """One whole epoch (a count of `steps` dropped); a cosine period keeps the study's length
    (the learning rate of that epoch)."""
    schedule = job["schedule"]
    if schedule["t_max"] is None and schedule["name"] == "cosine":
        schedule["t_max"] = job["epochs"]
    job["epochs"], job["steps"] = 1, None


def _few_iterations(probe: dict, sizes: dict[str, int]) -> None:
    if probe["solver"] == "minibatch_gd" and probe["kind"] in ("softmax", "logistic"):
        probe["max_iter"] = min(probe["max_iter"], PROBE_ITERATIONS)
    else:
        probe["max_iter"] = min(probe["max_iter"], SOLVER_ITERATIONS)
    if probe["train"] is not None:
        # PCA keeps at most as many components, and kNN asks at most as many neighbours, as the
        # (cut) training subset has images.
        probe["components"] = min(probe["components"], sizes[probe["train"]])
        probe["k"] = min(probe["k"], sizes[probe["train"]])


def _cut_subsets(subsets: dict, source: str, every_class: set[str], caps: dict[str, int]) -> dict[str, int]:
    """Shrink every subset's size to its share of the synthetic split (at most `caps[name]`;
    those in `every_class`: at least one image per class), drawing each as the subset rule will
    to be sure it fits; return the size of every subset."""
    import numpy as np

    from cvrepro.data.datasets import synthetic
    from cvrepro.data.subsets import draw_subset

    drawn: dict[str, np.ndarray] = {}
    for name in subset_order(subsets, source):
        subset = subsets[name]
        labels = synthetic.labels(subset["dataset"], subset["split"])
        within = drawn[subset["within"]] if subset["within"] else None
        excluded = [drawn[ref] for ref in subset["exclude"]]

        stratified = subset["draw"] == "stratified"

        def draw(size: int | None) -> np.ndarray:
            return draw_subset(labels, size, subset["seed"], subset["classes"], within, excluded, stratified)  # noqa: B023

        where = f"{source}: subsets.{name} (rehearsal)"
        if subset["size"] is None:
            try:
                drawn[name] = draw(None)
            except ValueError as error:
                raise ConfigError(f"{where}: {error}") from None
            continue
        real = DATASETS[subset["dataset"]].splits[subset["split"]]
        target = max(MIN_SUBSET, round(SHARE * subset["size"] * len(labels) / real))
        target = min(target, max(MIN_SUBSET, caps.get(name, target)))
        if name in every_class:
            target = max(target, num_classes(subset))
        for size in range(min(target, subset["size"]), 0, -1):
            try:
                drawn[name] = draw(size)
            except ValueError:
                continue
            subset["size"] = size
            break
        else:
            raise ConfigError(
                f"{where}: the synthetic {subset['dataset']}/{subset['split']} ({len(labels)} images) "
                "has no images left for it"
            )
    return {name: int(len(index)) for name, index in drawn.items()}
