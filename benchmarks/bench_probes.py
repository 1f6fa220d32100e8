"""Probe fit time (cvrepro.evaluate.probes.fit_probe): the scikit-learn classifiers of the probe rule on
features of the size our encoders produce, and on raw Fashion-MNIST pixels as the default study does."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from cvrepro.evaluate.probes import fit_probe  # noqa: E402
from cvrepro.jobs.recipes import probe_recipe  # noqa: E402


def clustered_features(
    n: int, dim: int, classes: int = 10, seed: int = 0, spread: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian classes around random centres: a probe problem that is learnable but not trivial,
    so the solvers iterate as they do on real features."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (classes, dim)) * 0.15
    labels = rng.integers(0, classes, n)
    return (centres[labels] + rng.normal(0, spread, (n, dim))).astype(np.float32), labels


def probe_fit(
    kind: str, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]
) -> tuple[float, float]:
    """(fit seconds, test accuracy) of the probe `kind` with the probe rule's defaults."""
    model, seconds = fit_probe(probe_recipe(kind=kind), *train)
    return seconds, float((model.predict(test[0]) == test[1]).mean())
