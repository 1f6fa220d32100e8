"""What every supervised loss declares (LossKind)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The keys of a run's `loss` every loss reads: the cross-entropy term's.
COMMON = ("name", "label_smoothing")


@dataclass(frozen=True)
class LossKind:
    """Cross-entropy plus, when `term` is given, loss.weight x a term on the penultimate features
    (embeddings): term(embeddings, labels, spec, state) -> scalar, named `part` in the parts.
    `state(spec, classes, features)` builds what the term learns beside the model (center loss's
    centres), which training moves to the device and resuming restores. `keys`: the run's loss
    keys it reads beyond COMMON; `views`: images the model sees per training image."""

    keys: tuple[str, ...] = ()
    term: Callable[[Any, Any, dict, Any], Any] | None = None
    part: str | None = None
    state: Callable[[dict, int, int], Any] | None = None
    views: int = 1
