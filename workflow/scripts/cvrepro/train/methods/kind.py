"""What every pretraining method declares (MethodKind)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MethodKind:
    """keys: the pretraining keys only this method takes (beyond data, model, epochs, steps,
    batch_size, optimizer, schedule, shuffle, augment, seed, repeats, which every method does);
    views: augmented views the model sees per training image (the throughput and cost counts);
    build(model, recipe, mean, std, probe, **online) -> the Method (cvrepro.train.engine) for the
    one loop; head(encoder features, recipe) -> the projector trained with the encoder and dropped
    afterwards, or None for none."""

    keys: tuple[str, ...]
    views: int
    build: Callable[..., Any]
    head: Callable[[int, dict], Any] | None = None
    # The views' cost in full-size images for the cost plan, where crops differ in size (dino's
    # multi-crop: 2 globals + each local's area fraction); None: `views`.
    pixel_views: Callable[[dict], float] | None = None
