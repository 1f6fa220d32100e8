"""dino against its paper: the loss equals Algorithm 1 of Caron et al. 2021 (two views) and its
code's multi-crop loop, written out here, on random inputs to float precision; planted errors
fail; the teacher temperature's warm-up and the centre's EMA step by step inside a real
pretraining; multi-crop views and their cost; a resumed pretraining (student, teacher, centre)
equals an uninterrupted one bit for bit; bad settings fail at validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cvrepro.data.tensors import TensorSet
from cvrepro.jobs.recipes import pretraining_recipe
from cvrepro.nets.models import build_model
from cvrepro.train.engine import fit
from cvrepro.train.methods import METHODS, dino, pretrain_net, pretraining_method
from cvrepro.train.multicrop import multi_crop
from cvrepro.train.resume import ResumeFile

# --- the paper's pseudo-code, written out ------------------------------------------------------------


def dino_paper(s1, s2, t1, t2, center, tpt, tps):
    """Caron et al. 2021, Algorithm 1: loss = H(t1, s2) / 2 + H(t2, s1) / 2 with
    H(t, s) = -(softmax((t.detach() - C) / tpt) * log softmax(s / tps)).sum(dim=1).mean()."""

    def H(t, s):
        t = t.detach()
        s = F.softmax(s / tps, dim=1)
        t = F.softmax((t - center) / tpt, dim=1)
        return -(t * torch.log(s)).sum(dim=1).mean()

    return H(t1, s2) / 2 + H(t2, s1) / 2


def dino_code_multicrop(student, teacher, center, tpt, tps):
    """The DINO code's DINOLoss.forward: every (teacher global iq, student view v != iq) pair."""
    total, n_terms = 0, 0
    for iq, q in enumerate(teacher):
        q = F.softmax((q.detach() - center) / tpt, dim=-1)
        for v in range(len(student)):
            if v == iq:
                continue
            total += torch.sum(-q * F.log_softmax(student[v] / tps, dim=-1), dim=-1).mean()
            n_terms += 1
    return total / n_terms


def draws(seed: int, views: int = 2, n: int = 12, k: int = 9):
    g = torch.Generator().manual_seed(seed)
    student = [torch.randn(n, k, generator=g, requires_grad=True) for _ in range(views)]
    teacher = [torch.randn(n, k, generator=g, requires_grad=True) for _ in range(2)]
    return student, teacher, torch.randn(1, k, generator=g) * 0.3


def agrees(ours, paper, views: int = 2) -> bool:
    for seed in range(3):
        (sa, ta, c), (sb, tb, _) = draws(seed, views), draws(seed, views)
        la, lb = ours(sa, ta, c), paper(sb, tb, c)
        la.backward()
        lb.backward()
        if not torch.allclose(la, lb, rtol=1e-5, atol=1e-6):
            return False
        for x, y in zip(sa + ta, sb + tb, strict=True):
            if (x.grad is None) != (y.grad is None):
                return False
            if x.grad is not None and not torch.allclose(x.grad, y.grad, rtol=1e-5, atol=1e-6):
                return False
    return True


def ours(student, teacher, center):
    return dino.loss(student, teacher, center, 0.04, 0.1)


def test_the_loss_is_algorithm_1_and_the_codes_multi_crop_loop():
    assert agrees(ours, lambda s, t, c: dino_paper(*s, *t, c, 0.04, 0.1))
    assert agrees(ours, lambda s, t, c: dino_code_multicrop(s, t, c, 0.04, 0.1), views=6)


def test_planted_errors_in_the_loss_fail():
    """No stop-gradient on the teacher, no centring, and the temperatures swapped each fail."""

    def no_detach(student, teacher, center):
        return (
            sum(
                torch.sum(
                    -F.softmax((t - center) / 0.04, -1) * F.log_softmax(student[1 - i] / 0.1, -1), -1
                ).mean()
                for i, t in enumerate(teacher)
            )
            / 2
        )

    def paper(s, t, c):
        return dino_paper(*s, *t, c, 0.04, 0.1)

    assert not agrees(no_detach, paper)
    assert not agrees(lambda s, t, c: dino.loss(s, t, torch.zeros_like(c), 0.04, 0.1), paper)
    assert not agrees(lambda s, t, c: dino.loss(s, t, c, 0.1, 0.04), paper)


def test_teacher_temperature_warm_up_is_dinos_linspace():
    spec = pretraining_recipe(method="dino")["dino"]
    assert (spec["warmup_teacher_temp"], spec["teacher_temp"], spec["warmup_teacher_temp_epochs"]) == (
        0.04,
        0.07,
        30,
    )
    expected = np.concatenate([np.linspace(0.04, 0.07, 30), np.full(70, 0.07)])
    assert dino.teacher_temperatures(spec, 100) == pytest.approx(expected.tolist(), abs=1e-12)
    short = {**spec, "warmup_teacher_temp_epochs": 3}
    assert dino.teacher_temperatures(short, 5) == pytest.approx([0.04, 0.055, 0.07, 0.07, 0.07])
    assert dino.teacher_temperatures({**spec, "warmup_teacher_temp_epochs": 0}, 2) == [0.07, 0.07]


# --- inside a real pretraining --------------------------------------------------------------------------

SMALL = {
    "projection": {"hidden": 16, "bottleneck": 8},
    "out_dim": 32,
    "local_crops_number": 2,
    "local_crops_size": 0.5,
    "warmup_teacher_temp_epochs": 3,
    "momentum": 0.9,
}


def toy_data(n: int = 32) -> TensorSet:
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = (torch.rand(n, 1, 32, 32, generator=g) * 100 + labels[:, None, None, None] * 120).to(torch.uint8)
    return TensorSet(images, labels, ["dark", "bright"])


def setup(epochs: int = 4):
    recipe = pretraining_recipe(
        method="dino",
        model={"arch": "convnet4", "width": 8},
        epochs=epochs,
        batch_size=16,
        augment="flip",
        optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0},
        dino=SMALL,
    )
    torch.manual_seed(0)
    net = pretrain_net(
        build_model({**recipe["model"], "in_channels": 1, "num_classes": 2, "image_size": 32}), recipe
    )
    return net, recipe, pretraining_method(net, recipe, [0.5], [0.25], None)


def test_multi_crop_views_and_their_cost():
    spec = pretraining_recipe(method="dino", dino=SMALL)["dino"]
    views = multi_crop(toy_data().images[:5], "flip", [0.5], [0.25], torch.Generator().manual_seed(0), spec)
    assert [tuple(v.shape) for v in views] == [(5, 1, 32, 32)] * 2 + [(5, 1, 16, 16)] * 2
    assert METHODS["dino"].pixel_views({"dino": spec}) == pytest.approx(2 + 2 * 0.25)
    assert setup(1)[2].views == 4  # images the model sees per training image: 2 global + 2 local
    from cvrepro.report.cost.plan import _pretrain_passes

    # The cost plan: 100 images x 1 epoch x (2 + 2 x 0.5^2) full-size images; simclr's 2 views as before.
    recipe = pretraining_recipe(method="dino", epochs=1, dino=SMALL)
    assert _pretrain_passes({**recipe, "data": "d", "probe_data": None}, {"d": 100})["train"] == 250
    simclr = pretraining_recipe(method="simclr", epochs=1)
    assert _pretrain_passes({**simclr, "data": "d", "probe_data": None}, {"d": 100})["train"] == 200


def test_temperature_and_centre_step_by_step():
    """Per epoch the teacher temperature of the warm-up (3 epochs, then 0.07); after each step
    the centre is 0.9 c + 0.1 mean of the teacher's global outputs (recorded as the step made
    them); a centre updated with the student's outputs instead (planted) differs."""
    for planted in (False, True):
        net, recipe, method = setup()
        state, means = method.state, []
        update = state.update_center

        def recording(teacher_out, momentum, update=update, means=means, planted=planted):
            means.append(teacher_out.mean(dim=0, keepdim=True).clone())
            update(teacher_out if not planted else teacher_out + 1, momentum)

        state.update_center = recording
        history = fit(net, toy_data(), recipe, method, log=lambda line: None).history
        assert [row["teacher_temp"] for row in history] == pytest.approx([0.04, 0.055, 0.07, 0.07], abs=1e-7)
        assert len(means) == 8 and int(state.epochs_done) == 4
        by_hand = torch.zeros(1, 32)
        for mean in means:
            by_hand = 0.9 * by_hand + 0.1 * mean
        assert torch.allclose(state.center, by_hand, atol=1e-6) != planted


def test_a_resumed_pretraining_equals_an_uninterrupted_one(tmp_path):
    """Killed after epoch 2's training (epoch 1's state on disk), then rerun: the student, the
    teacher, the centre and the epoch count equal an uninterrupted run's bit for bit."""
    net, recipe, method = setup()
    fit(net, toy_data(), recipe, method, log=lambda line: None)
    resume = ResumeFile(tmp_path / "state.pt", "h", every_s=0)
    killed, _, kill = setup()
    epochs = []

    counting = kill.after_epoch  # dino's epoch count: the kill comes after it

    def dying(generator):
        counting(generator)
        epochs.append(1)
        if len(epochs) == 2:
            raise KeyboardInterrupt("killed")
        return {}

    kill.after_epoch = dying
    with pytest.raises(KeyboardInterrupt):
        fit(killed, toy_data(), recipe, kill, resume=resume, log=lambda line: None)
    again, _, resumed = setup()
    fit(again, toy_data(), recipe, resumed, resume=resume, log=lambda line: None)
    for a, b in zip(again.state_dict().values(), net.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    ours, theirs = resumed.state_dict(), method.state_dict()
    assert set(ours) == set(theirs) and {"center", "epochs_done"} <= set(ours)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert not torch.equal(theirs["center"], torch.zeros_like(theirs["center"]))


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"teacher_temp": 0.0}, "teacher_temp"),
        ({"momentum": 1.5}, "momentum"),
        ({"center_momentum": -0.1}, "center_momentum"),
        ({"local_crops_size": 1.5}, "local_crops_size"),
        ({"global_crops_scale": [0.4, 1.2]}, "global_crops_scale"),
    ],
)
def test_bad_settings_fail_at_validation(keys, message):
    with pytest.raises(ValueError, match=message):
        pretraining_recipe(method="dino", dino=keys)


@pytest.mark.parametrize(
    ("use_bn", "kinds"),
    [
        (False, ["Linear", "GELU", "Linear", "GELU", "Linear"]),
        (True, ["Linear", "BatchNorm1d", "GELU", "Linear", "BatchNorm1d", "GELU", "Linear"]),
    ],
)
def test_the_head_is_the_codes_dinohead(use_bn, kinds):
    """DINO's DINOHead(nlayers=3): Linear, [BN], GELU, Linear, [BN], GELU, Linear to the
    bottleneck; then l2 norm and the weight-normalised last layer, its norm frozen at 1."""
    spec = pretraining_recipe(method="dino", dino={**SMALL, "use_bn_in_head": use_bn})["dino"]
    assert pretraining_recipe(method="dino")["dino"]["use_bn_in_head"] is False  # the code's default
    head = dino.head(20, {"dino": spec})
    assert [type(m).__name__ for m in head.mlp] == kinds
    linears = [m for m in head.mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(20, 16), (16, 16), (16, 8)]
    out = head(torch.randn(5, 20))
    assert out.shape == (5, 32)
    g = head.last_layer.parametrizations.weight.original0
    assert not g.requires_grad and torch.equal(g, torch.ones_like(g))


def test_the_head_sees_every_crop_of_a_batch_at_once():
    """With BatchNorm in the head its statistics come from all crops together, as DINO's
    MultiCropWrapper runs the head once on the concatenated features."""
    recipe = pretraining_recipe(
        method="dino",
        model={"arch": "convnet4", "width": 8},
        augment="flip",
        dino={**SMALL, "use_bn_in_head": True},
    )
    torch.manual_seed(0)
    net = pretrain_net(
        build_model({**recipe["model"], "in_channels": 1, "num_classes": 2, "image_size": 32}), recipe
    )
    method = pretraining_method(net, recipe, [0.5], [0.25], None)
    batches = []
    net.projector.register_forward_hook(lambda module, inputs, output: batches.append(len(inputs[0])))
    method.step(toy_data(6).images, toy_data(6).labels, torch.Generator().manual_seed(0))
    assert batches == [
        6 * (2 + SMALL["local_crops_number"])
    ]  # the student's one call: 2 global + 2 local crops
