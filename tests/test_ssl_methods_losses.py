"""byol, mocov3 and simsiam against their papers: each loss equals the paper's pseudo-code,
written out here from the paper (not imported from our code), on random inputs to float
precision; planted errors (a wrong sign, a missing stop-gradient, a teacher updated before the
optimizer step) fail; the teacher is the EMA of the student step by step inside a real
pretraining, and a resumed pretraining equals an uninterrupted one bit for bit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cvrepro.data.tensors import TensorSet
from cvrepro.jobs.recipes import pretraining_recipe
from cvrepro.nets.models import build_model
from cvrepro.train.engine import fit
from cvrepro.train.methods import byol, mocov3, pretrain_net, pretraining_method, simsiam
from cvrepro.train.resume import ResumeFile
from cvrepro.train.teacher import cosine_momentum

# --- the papers' pseudo-code, written out ---------------------------------------------------------


def byol_paper(p1, p2, t1, t2):
    """Grill et al. 2020, eq. 2: L = || q/|q| - z'/|z'| ||^2, plus the symmetric term (views
    swapped); the mean over the batch; the target z' is not differentiated (sg)."""

    def l2(q, z):
        qn = q / q.norm(dim=1, keepdim=True)
        zn = z.detach() / z.detach().norm(dim=1, keepdim=True)
        return ((qn - zn) ** 2).sum(dim=1).mean()

    return l2(p1, t2) + l2(p2, t1)


def simsiam_paper(p1, p2, z1, z2):
    """Chen & He 2021, Algorithm 1: D(p, z) = -(normalize(p) . normalize(z.detach())).sum(1).mean();
    L = D(p1, z2) / 2 + D(p2, z1) / 2."""

    def d(p, z):
        z = z.detach()
        p = p / p.norm(dim=1, keepdim=True)
        z = z / z.norm(dim=1, keepdim=True)
        return -(p * z).sum(dim=1).mean()

    return d(p1, z2) / 2 + d(p2, z1) / 2


def mocov3_paper(q1, q2, k1, k2, tau):
    """Chen, Xie & He 2021, Algorithm 1: ctr(q, k) = CrossEntropy(q k^T / tau, range(N)) * 2 tau on
    normalised q, k (k without gradient); loss = ctr(q1, k2) + ctr(q2, k1). Cross-entropy written
    out: -mean_i log(exp(l_ii) / sum_j exp(l_ij))."""

    def ctr(q, k):
        q = q / q.norm(dim=1, keepdim=True)
        k = k.detach() / k.detach().norm(dim=1, keepdim=True)
        logits = q @ k.T / tau
        log_prob = logits.diagonal() - logits.exp().sum(dim=1).log()
        return -log_prob.mean() * 2 * tau

    return ctr(q1, k2) + ctr(q2, k1)


def inputs(seed: int = 0, n: int = 12, dim: int = 7) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, dim, generator=g, dtype=torch.float32, requires_grad=True) for _ in range(4)]


CASES = {
    "byol": (byol.loss, byol_paper),
    "simsiam": (simsiam.loss, simsiam_paper),
    "mocov3": (lambda *x: mocov3.loss(*x, 0.2), lambda *x: mocov3_paper(*x, 0.2)),
}


def matches_paper(ours, paper) -> bool:
    """Same value and same gradients (so the same stop-gradients) on three random draws."""
    for seed in range(3):
        a, b = inputs(seed), inputs(seed)
        la, lb = ours(*a), paper(*b)
        la.backward()
        lb.backward()
        if not torch.allclose(la, lb, rtol=1e-5, atol=1e-6):
            return False
        for x, y in zip(a, b, strict=True):
            if (x.grad is None) != (y.grad is None):
                return False
            if x.grad is not None and not torch.allclose(x.grad, y.grad, rtol=1e-5, atol=1e-6):
                return False
    return True


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_loss_is_its_papers_pseudo_code(name):
    assert matches_paper(*CASES[name])


def test_planted_errors_in_the_losses_fail():
    """A wrong sign, a missing stop-gradient and MoCo v3 without its 2 tau scale each fail."""

    def byol_plus(p1, p2, t1, t2):  # wrong sign: 2 + 2 cos
        return (2 + 2 * F.cosine_similarity(p1, t2.detach())).mean() + (
            2 + 2 * F.cosine_similarity(p2, t1.detach())
        ).mean()

    def simsiam_no_stopgrad(p1, p2, z1, z2):
        return -F.cosine_similarity(p1, z2).mean() / 2 - F.cosine_similarity(p2, z1).mean() / 2

    def byol_no_stopgrad(p1, p2, t1, t2):
        return (2 - 2 * F.cosine_similarity(p1, t2)).mean() + (2 - 2 * F.cosine_similarity(p2, t1)).mean()

    def mocov3_unscaled(q1, q2, k1, k2):
        return mocov3.loss(q1, q2, k1, k2, 0.2) / (2 * 0.2)

    assert not matches_paper(byol_plus, byol_paper)
    assert not matches_paper(byol_no_stopgrad, byol_paper)
    assert not matches_paper(simsiam_no_stopgrad, simsiam_paper)
    assert not matches_paper(mocov3_unscaled, CASES["mocov3"][1])


# --- the methods inside a real pretraining ---------------------------------------------------------

HEADS = {
    "byol": {"byol": {"projection": {"hidden": 16, "dim": 8}, "predictor_hidden": 16, "momentum": 0.9}},
    "mocov3": {"mocov3": {"projection": {"hidden": 16, "dim": 8}, "predictor_hidden": 16, "momentum": 0.9}},
    "simsiam": {"simsiam": {"projection": {"hidden": 16, "dim": 8}, "predictor_hidden": 4}},
}


def toy_data(n: int = 48) -> TensorSet:
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = (torch.rand(n, 1, 12, 12, generator=g) * 100 + labels[:, None, None, None] * 120).to(torch.uint8)
    return TensorSet(images, labels, ["dark", "bright"])


def setup(name: str, epochs: int = 3):
    recipe = pretraining_recipe(
        method=name,
        model={"arch": "resnet18", "width": 4},
        epochs=epochs,
        batch_size=16,
        augment="crop_flip",
        optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0},
        **HEADS[name],
    )
    torch.manual_seed(0)
    net = pretrain_net(
        build_model({**recipe["model"], "in_channels": 1, "num_classes": 2, "image_size": 12}), recipe
    )
    return net, recipe, pretraining_method(net, recipe, [0.5], [0.25], None)


def student_weights(net) -> list[torch.Tensor]:
    return [p.detach().clone() for m in (net.encoder, net.projector.projector) for p in m.parameters()]


@pytest.mark.parametrize("name", ["byol", "mocov3"])
@pytest.mark.parametrize("early", [False, True])
def test_the_teacher_is_the_ema_of_the_student_after_each_step(name, early):
    """The teacher equals the EMA definition applied to the student's weights after each
    optimizer step with the cosine schedule; planted: the update moved into the step, before the
    optimizer moved the student, is caught."""
    net, recipe, method = setup(name)
    initial, seen = student_weights(net), []
    update, step = method.after_step, method.step

    def recording(k: int, total: int) -> None:
        seen.append((k, total, student_weights(net)))
        if not early:
            update(k, total)

    def stepping(images, labels, generator):
        if early:
            update(len(seen), 9)
        return step(images, labels, generator)

    method.after_step, method.step = recording, stepping
    fit(net, toy_data(), recipe, method, log=lambda line: None)
    assert [(k, n) for k, n, _ in seen] == [(k, 9) for k in range(9)]  # 3 epochs of 3 batches
    by_hand = initial
    for k, total, weights in seen:
        m = cosine_momentum(k, total, 0.9)
        by_hand = [m * t + (1 - m) * s for t, s in zip(by_hand, weights, strict=True)]
    close = [
        torch.allclose(ours, expected, rtol=1e-5, atol=1e-6)
        for ours, expected in zip(method.state.net.parameters(), by_hand, strict=True)
    ]
    assert all(close) != early


@pytest.mark.parametrize("name", ["byol", "mocov3", "simsiam"])
def test_a_resumed_pretraining_equals_an_uninterrupted_one(name, tmp_path):
    """Killed after epoch 2's training (epoch 1's state on disk), then rerun: the student and the
    teacher equal an uninterrupted run's bit for bit."""
    net, recipe, method = setup(name)
    fit(net, toy_data(), recipe, method, log=lambda line: None)
    resume = ResumeFile(tmp_path / "state.pt", "h", every_s=0)
    killed, _, kill = setup(name)
    epochs = []

    def dying(generator):
        epochs.append(1)
        if len(epochs) == 2:
            raise KeyboardInterrupt("killed")
        return {}

    kill.after_epoch = dying
    with pytest.raises(KeyboardInterrupt):
        fit(killed, toy_data(), recipe, kill, resume=resume, log=lambda line: None)
    again, _, resumed = setup(name)
    fit(again, toy_data(), recipe, resumed, resume=resume, log=lambda line: None)
    for a, b in zip(again.state_dict().values(), net.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    if method.state is not None:
        fresh = list(setup(name)[2].state.state_dict().values())
        for a, b in zip(resumed.state_dict().values(), method.state_dict().values(), strict=True):
            assert torch.equal(a, b)
        assert any(not torch.equal(a, c) for a, c in zip(method.state_dict().values(), fresh, strict=True))


# --- bad input -------------------------------------------------------------------------------------


def pretraining_study(**keys) -> dict:
    subsets = {"a": {"dataset": "fashion_mnist", "split": "train", "size": 10}}
    runs = {"r": {"train": "a", "test": "a"}}
    return {"description": "d", "subsets": subsets, "runs": runs, "pretrain": {"p": {"data": "a", **keys}}}


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"method": "byol", "temperature": 0.5}, r"pretrain\.p\.temperature: method byol does not take"),
        ({"method": "simsiam", "byol": {}}, r"pretrain\.p\.byol: method simsiam does not take 'byol'"),
        ({"method": "simclr", "mocov3": {"momentum": 0.9}}, r"pretrain\.p\.mocov3: method simclr"),
        ({"method": "byol", "byol": {"momentum": 1.5}}, r"pretrain\.p\.byol\.momentum"),
        ({"method": "mocov3", "mocov3": {"temperature": 0}}, r"pretrain\.p\.mocov3\.temperature"),
    ],
)
def test_a_setting_the_method_does_not_take_or_out_of_range_fails_in_one_line(keys, message):
    from cvrepro.config.load import resolve_study
    from cvrepro.config.schema import ConfigError

    with pytest.raises(ConfigError, match=message) as error:
        resolve_study("x", pretraining_study(**keys), "x.yaml")
    assert "\n" not in str(error.value)
