"""A momentum (EMA) teacher and BYOL's cosine momentum schedule, shared by the methods that have
a teacher (byol, mocov3, dino).

The teacher is a frozen deep copy of the student's modules. After every optimizer step (the
Method's after_step hook, so it sees the weights the step just moved) each teacher parameter
becomes t = m t + (1 - m) s, and its buffers (BatchNorm's running statistics) are copied from
the student, as solo-learn's MomentumUpdater and BYOL's reference code do. The teacher is the
Method's state, so a resume keeps it.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def cosine_momentum(step: int, total: int, base: float) -> float:
    """BYOL's schedule (Grill et al. 2020, section 3.2): m_k = 1 - (1 - m_base) (cos(pi k / K) + 1) / 2,
    from `base` at step 0 up to 1 at step K = `total`; k is the 0-based index of the step just taken."""
    if total < 1 or not 0 <= step <= total:
        raise ValueError(f"momentum schedule: step {step} outside 0..{total}")
    return 1 - (1 - base) * (math.cos(math.pi * step / total) + 1) / 2


class EmaTeacher(nn.Module):
    """A frozen copy of `student` (no gradients) moved towards it by `update`."""

    def __init__(self, student: nn.Module) -> None:
        super().__init__()
        self.net = copy.deepcopy(student).requires_grad_(False)

    def forward(self, *args, **kwargs):
        return self.net(*args, **kwargs)

    @torch.no_grad()
    def update(self, student: nn.Module, momentum: float) -> None:
        """t = m t + (1 - m) s for each parameter; buffers copied from the student."""
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"teacher momentum {momentum} outside [0, 1]")
        for t, s in zip(self.net.parameters(), student.parameters(), strict=True):
            t.mul_(momentum).add_(s.detach(), alpha=1 - momentum)
        for t, s in zip(self.net.buffers(), student.buffers(), strict=True):
            t.copy_(s)
