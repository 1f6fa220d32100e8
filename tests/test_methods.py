"""The training plugins and the loop's hooks: the pretraining methods (cvrepro.train.methods) and
supervised losses (cvrepro.train.losses) are registries equal to the schema's enums, light at
import; Method.after_step runs after each optimizer step with the step index a momentum schedule
needs (a toy EMA teacher equals the EMA formula applied step by step; updating it before the
step fails); and a method's state (the teacher) resumes with the run."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from conftest import REPO, heavy_imports
from cvrepro.data.tensors import TensorSet
from cvrepro.jobs.recipes import run_recipe
from cvrepro.train.engine import Method, fit
from cvrepro.train.losses import LOSSES
from cvrepro.train.losses.kind import COMMON
from cvrepro.train.methods import METHODS
from cvrepro.train.resume import ResumeFile

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "study.schema.yaml").read_text())["definitions"]
PRETRAINING = SCHEMA["pretraining"]["properties"]
LOSS = SCHEMA["run"]["properties"]["loss"]["properties"]


def test_the_registries_are_the_schemas_enums():
    assert sorted(METHODS) == sorted(PRETRAINING["method"]["enum"])
    assert sorted(LOSSES) == sorted(LOSS["name"]["enum"])


def test_each_plugin_takes_schema_keys_and_only_its_own():
    for name, kind in METHODS.items():
        assert set(kind.keys) <= set(PRETRAINING), name
        assert kind.views >= 1 and callable(kind.build), name
    for a, b in [(a, b) for a in METHODS for b in METHODS if a < b]:
        assert not set(METHODS[a].keys) & set(METHODS[b].keys), (a, b)
    for name, kind in LOSSES.items():
        assert set(kind.keys) <= set(LOSS) - set(COMMON), name
    assert set().union(COMMON, *(kind.keys for kind in LOSSES.values())) == set(LOSS)


def test_the_registries_load_without_torch():
    """Read while Snakemake parses the workflow: no torch at import."""
    assert (
        heavy_imports("from cvrepro.train.methods import METHODS; from cvrepro.train.losses import LOSSES")
        == []
    )


def test_a_methods_views_and_head_are_what_its_module_declares():
    from cvrepro.jobs.recipes import pretraining_recipe
    from cvrepro.nets.models import build_model
    from cvrepro.train.methods import pretrain_net, pretraining_method

    for name, kind in METHODS.items():
        recipe = pretraining_recipe(method=name, model={"arch": "resnet18", "width": 4})
        arch = {**recipe["model"], "in_channels": 1, "num_classes": 2, "image_size": 12}
        net = pretrain_net(build_model(arch), recipe)
        assert isinstance(net.projector, nn.Identity) == (kind.head is None), name
        assert pretraining_method(net, recipe, [0.5], [0.25], None).views == kind.views, name
    with pytest.raises(ValueError, match=r"unknown pretraining method 'byol2'; choose from \[.*'simclr'"):
        pretraining_method(net, {**recipe, "method": "byol2"}, [0.5], [0.25], None)


# --- after_step and a method's state: a toy EMA teacher --------------------------------------------

BASE = 0.9  # the teacher's base momentum; BYOL's cosine schedule raises it to 1 over the training


def momentum(step: int, total: int) -> float:
    """BYOL's schedule (Grill et al. 2020): tau_k = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2."""
    return 1 - (1 - BASE) * (math.cos(math.pi * step / total) + 1) / 2


def toy_data(n: int = 96) -> TensorSet:
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = (torch.rand(n, 1, 6, 6, generator=g) * 100 + labels[:, None, None, None] * 120).to(torch.uint8)
    return TensorSet(images, labels, ["dark", "bright"])


class Teacher(nn.Module):
    """The method's state: an EMA copy of the student."""

    def __init__(self, student: nn.Module) -> None:
        super().__init__()
        self.net = copy.deepcopy(student).requires_grad_(False)

    @torch.no_grad()
    def update(self, student: nn.Module, tau: float) -> None:
        for t, s in zip(self.net.parameters(), student.parameters(), strict=True):
            t.mul_(tau).add_(s.detach(), alpha=1 - tau)


def ema_method(student: nn.Module, seen: list, total: int = 18, early: bool = False, kill_at=None) -> Method:
    """A supervised step plus an EMA teacher updated in after_step; `seen` records each call's
    (step, total, student weights). `early` plants the bug: the update runs inside the step,
    before the optimizer has moved the student (`total`: the training's steps, for its schedule). `kill_at`: fail after that epoch's training, as a
    killed job would, before its resume state is written."""
    teacher = Teacher(student)
    epochs = []

    def step(images, labels, generator):
        if early:
            teacher.update(student, momentum(len(seen), total))
        loss = F.cross_entropy(student(images.float() / 255), labels)
        return loss, {"loss": loss.detach()}

    def after_step(k: int, steps: int) -> None:
        seen.append((k, steps, [p.detach().clone() for p in student.parameters()]))
        if not early:
            teacher.update(student, momentum(k, steps))

    def after_epoch(generator) -> dict:
        epochs.append(1)
        if kill_at is not None and len(epochs) == kill_at:
            raise KeyboardInterrupt("killed")
        return {}

    def summarize(sums: dict, images: int, steps: int) -> dict:
        return {"train_loss": sums["loss"] / steps}

    return Method(step, summarize, after_epoch, teacher, after_step=after_step)


RECIPE = run_recipe(
    epochs=3,
    batch_size=16,
    optimizer={"name": "sgd", "lr": 0.5, "momentum": 0.9, "weight_decay": 0.0},
    schedule={"name": "constant"},
)


def student() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 2))


def train_with_teacher(early: bool = False, recipe: dict = RECIPE, **fit_keys):
    net, seen = student(), []
    initial = [p.detach().clone() for p in net.parameters()]
    method = ema_method(net, seen, recipe["steps"] or recipe["epochs"] * 6, early)  # 6 steps per epoch
    fit(net, toy_data(), recipe, method, log=lambda line: None, **fit_keys)
    return net, method.state, seen, initial


def ema_by_hand(initial: list[torch.Tensor], seen: list) -> list[torch.Tensor]:
    """The EMA definition applied step by step to the student's weights after each step."""
    teacher = [w.clone() for w in initial]
    for k, total, weights in seen:
        tau = momentum(k, total)
        teacher = [tau * t + (1 - tau) * w for t, w in zip(teacher, weights, strict=True)]
    return teacher


@pytest.mark.parametrize("steps", [None, 14])
def test_after_step_sees_every_optimizer_step_after_it_moved_the_weights(steps):
    recipe = {**RECIPE, "steps": steps}
    net, teacher, seen, initial = train_with_teacher(recipe=recipe)
    total = steps or 18
    assert [(k, n) for k, n, _ in seen] == [(k, total) for k in range(total)]
    # The last call saw the final weights: it ran after the last optimizer step, not before it.
    for seen_weight, final in zip(seen[-1][2], net.parameters(), strict=True):
        assert torch.equal(seen_weight, final)
    assert not torch.equal(seen[0][2][0], initial[0])  # the first call came after the first step
    for ours, by_hand in zip(teacher.net.parameters(), ema_by_hand(initial, seen), strict=True):
        torch.testing.assert_close(ours, by_hand, rtol=1e-6, atol=1e-7)


def test_an_ema_updated_before_the_step_is_caught():
    _, teacher, seen, initial = train_with_teacher(early=True)
    mismatch = [
        not torch.allclose(ours, by_hand, rtol=1e-6, atol=1e-7)
        for ours, by_hand in zip(teacher.net.parameters(), ema_by_hand(initial, seen), strict=True)
    ]
    assert any(mismatch)


def test_a_methods_state_resumes_with_the_run(tmp_path):
    """Killed after epoch 2's training (its state from epoch 1 on disk), then rerun: the teacher
    and the student equal an uninterrupted run's, bit for bit."""
    net, teacher, _, _ = train_with_teacher()
    resume = ResumeFile(tmp_path / "state.pt", "h", every_s=0)
    killed = student()
    with pytest.raises(KeyboardInterrupt):
        method = ema_method(killed, [], kill_at=2)
        fit(killed, toy_data(), RECIPE, method, resume=resume, log=lambda line: None)
    assert torch.load(resume.path, weights_only=True)["epoch"] == 1
    again = student()
    method = ema_method(again, [])
    fit(again, toy_data(), RECIPE, method, resume=resume, log=lambda line: None)
    for a, b in zip(method.state.state_dict().values(), teacher.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(again.parameters(), net.parameters(), strict=True):
        assert torch.equal(a, b)
    # Without the teacher in the resume state the resumed teacher would be the fresh copy.
    assert not torch.equal(next(Teacher(student()).parameters()), next(teacher.parameters()))


def test_editing_a_plugin_module_changes_the_fingerprint_of_the_jobs_that_use_it():
    """The registries import their modules by discovery, not by name: the code fingerprint of
    pretrain.py still covers every method module, and train.py's every loss module."""
    from cvrepro.jobs.fingerprint import fingerprint

    scripts = REPO / "workflow" / "scripts"
    pretrain = set(fingerprint(scripts / "pretrain.py")["modules"])
    train = set(fingerprint(scripts / "train.py")["modules"])
    assert {f"cvrepro.train.methods.{name}" for name in METHODS} <= pretrain
    assert {f"cvrepro.train.losses.{name}" for name in LOSSES} <= train
