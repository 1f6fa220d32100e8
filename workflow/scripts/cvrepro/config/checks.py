"""The checks a schema cannot express, run on every study at load time, section by section."""

from __future__ import annotations

from cvrepro.config.checks_data import check_bn_sweeps, check_shift_sets, check_subsets
from cvrepro.config.checks_names import check_names
from cvrepro.config.checks_outputs import check_figures, check_tables
from cvrepro.config.checks_training import (
    check_batch_fits,
    check_imagenet_weights,
    check_pretrain,
    check_probes,
    check_runs,
    check_steps,
)
from cvrepro.study import Study


def check_study(study: Study) -> dict[str, int]:
    """References between sections, cycles, sizes, disjoint train/test; a ConfigError names the key.
    Returns the images each subset holds."""
    sizes = check_subsets(study)
    check_pretrain(study)
    check_runs(study)
    check_probes(study)
    check_imagenet_weights(study)
    check_steps(study, sizes)
    check_batch_fits(study, sizes)
    check_shift_sets(study)
    check_bn_sweeps(study)
    check_figures(study)
    check_tables(study)
    check_names(study)  # layers, stages, classes, seeds: after the references they use
    return sizes
