"""The momentum teacher (cvrepro.train.teacher) against its definition step by step: BYOL's
cosine schedule, the EMA of parameters with buffers copied, and planted errors that fail."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cvrepro.nets.heads import MLPHead
from cvrepro.train.teacher import EmaTeacher, cosine_momentum


def test_cosine_momentum_is_byols_schedule():
    base, total = 0.996, 10
    # Grill et al. 2020: tau = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2
    by_paper = [1 - (1 - base) * (math.cos(math.pi * k / total) + 1) / 2 for k in range(total + 1)]
    ours = [cosine_momentum(k, total, base) for k in range(total + 1)]
    assert ours == pytest.approx(by_paper, abs=0, rel=1e-15)
    assert ours[0] == pytest.approx(base) and ours[-1] == 1.0
    assert all(a < b for a, b in zip(ours, ours[1:], strict=False))  # rises monotonically towards 1
    with pytest.raises(ValueError, match="step 11 outside 0..10"):
        cosine_momentum(11, total, base)


def student() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def ema_by_hand(teacher: list[torch.Tensor], student_weights: list[torch.Tensor], m: float):
    return [m * t + (1 - m) * s for t, s in zip(teacher, student_weights, strict=True)]


def train_steps(net: nn.Module, teacher: EmaTeacher, steps: int, early: bool = False):
    """SGD steps on random data with the teacher updated after each (or, planted, before)."""
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(1)
    by_hand = [p.detach().clone() for p in teacher.net.parameters()]
    for k in range(steps):
        m = cosine_momentum(k, steps, 0.9)
        if early:
            teacher.update(net, m)
        loss = net(torch.randn(16, 5, generator=g)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if not early:
            teacher.update(net, m)
        by_hand = ema_by_hand(by_hand, [p.detach() for p in net.parameters()], m)
    return by_hand


def test_the_teacher_is_the_ema_of_the_student_step_by_step():
    net = student()
    teacher = EmaTeacher(net)
    assert all(not p.requires_grad for p in teacher.parameters())
    by_hand = train_steps(net, teacher, 6)
    for ours, expected in zip(teacher.net.parameters(), by_hand, strict=True):
        torch.testing.assert_close(ours, expected, rtol=1e-6, atol=1e-7)
    # Buffers (BatchNorm's running statistics) are the student's, copied.
    for t, s in zip(teacher.net.buffers(), net.buffers(), strict=True):
        assert torch.equal(t, s)
    # The teacher is no longer the initial copy, nor the student.
    assert not torch.equal(teacher.net[0].weight, net[0].weight)


def test_an_update_before_the_step_is_caught():
    net = student()
    teacher = EmaTeacher(net)
    by_hand = train_steps(net, teacher, 6, early=True)
    assert any(
        not torch.allclose(ours, expected, rtol=1e-6, atol=1e-7)
        for ours, expected in zip(teacher.net.parameters(), by_hand, strict=True)
    )


def test_a_reversed_momentum_is_caught():
    """Planted: t = (1 - m) t + m s (the roles of m swapped)."""

    class Swapped(EmaTeacher):
        @torch.no_grad()
        def update(self, student, momentum):
            super().update(student, 1 - momentum)

    net = student()
    teacher = Swapped(net)
    by_hand = train_steps(net, teacher, 6)
    assert not torch.allclose(teacher.net[0].weight, by_hand[0], rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="momentum 1.5 outside"):
        EmaTeacher(net).update(net, 1.5)


def test_mlp_heads_have_the_papers_shapes():
    # MoCo v3's ResNet predictor: linear (no bias), BN, ReLU, linear, BN without affine.
    head = MLPHead(16, 32, 8, layers=2, last_bn="plain", bias=False)
    kinds = [type(m).__name__ for m in head]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d"]
    assert head[0].bias is None and not head[4].affine
    assert head(torch.randn(4, 16)).shape == (4, 8)
    # SimSiam's projector: three layers, BN after the last.
    assert len(MLPHead(16, 32, 8, layers=3, last_bn="affine")) == 8
    with pytest.raises(ValueError, match="last_bn 'x'"):
        MLPHead(16, 32, 8, 2, "x")
