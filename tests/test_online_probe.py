"""S6's SimCLR: the cross-view loss and the linear probe trained alongside the encoder (online),
through the real engine on a tiny two-class set; its config checks."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from conftest import TINY_STUDY
from cvrepro.config import ConfigError, resolve_study
from cvrepro.data.tensors import TensorSet, channel_stats
from cvrepro.jobs.recipes import pretraining_recipe
from cvrepro.nets.heads import ProjectionHead
from cvrepro.nets.inference import extract_features
from cvrepro.nets.models import build_model
from cvrepro.train.batches import steps_per_epoch
from cvrepro.train.engine import fit
from cvrepro.train.methods import pretraining_method
from cvrepro.train.online_probe import labelled_batch_size
from cvrepro.train.pretraining import PretrainNet
from cvrepro.train.resume import ResumeFile, load_state

RECIPE = pretraining_recipe(
    method="simclr",
    loss="cross_view",
    probe="online",
    probe_lr=0.01,
    probe_augment="flip",
    epochs=3,
    batch_size=16,
    optimizer={"name": "adam", "lr": 1e-3, "weight_decay": 0.0},
    schedule={"name": "constant"},
    augment={"name": "s6_supervised", "hue": 0.1},
    temperature=0.2,
    model={"arch": "resnet18", "width": 4},
)


def toy_set(n: int, seed: int) -> TensorSet:
    """Two classes, dark and bright, 3 x 16 x 16."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = torch.rand(n, 3, 16, 16, generator=g) * 100 + labels[:, None, None, None] * 120
    return TensorSet(images.to(torch.uint8), labels, ["dark", "bright"])


def setup(recipe: dict):
    torch.manual_seed(0)
    data, labelled, val = toy_set(64, 0), toy_set(40, 1), toy_set(30, 2)
    mean, std = channel_stats(data.images)
    arch = {**recipe["model"], "in_channels": 3, "num_classes": 2, "image_size": 16}
    encoder = build_model(arch)
    net = PretrainNet(encoder, ProjectionHead(encoder.num_features, 16, 8, True))
    steps = steps_per_epoch(len(data), recipe["batch_size"])
    method = pretraining_method(net, recipe, mean, std, labelled, probe_val=val, steps=steps)
    return net, data, val, method, (mean, std)


def test_the_labelled_set_is_zipped_with_the_contrastive_batches():
    assert labelled_batch_size(5000, 200) == 25  # the Keras example: 5,000 labels over 200 steps
    assert labelled_batch_size(3, 10) == 1


def test_online_probe_records_train_and_val_accuracy_of_its_own_head():
    net, data, val, method, (mean, std) = setup(RECIPE)
    history = fit(net, data, RECIPE, method, log=lambda s: None).history
    for row in history:
        for key in ("contrastive_acc", "probe_train_acc", "probe_val_acc"):
            assert 0 <= row[key] <= 1, (key, row)
        assert row["probe_train_loss"] > 0 and row["probe_val_loss"] > 0
    # probe_val_acc is the head's accuracy on the validation set's eval-mode features
    features = torch.from_numpy(extract_features(net.encoder, val, mean, std, None, "penultimate"))
    with torch.no_grad():
        logits = method.state.linear(features)
    assert history[-1]["probe_val_acc"] == pytest.approx(
        float((logits.argmax(1) == val.labels).float().mean())
    )
    assert history[-1]["probe_val_loss"] == pytest.approx(
        float(F.cross_entropy(logits, val.labels)), rel=1e-5
    )
    assert history[-1]["probe_train_acc"] > 0.6  # dark vs bright is easy


def test_a_probe_step_trains_the_head_and_leaves_the_encoder_alone():
    net, data, _, method, _ = setup(RECIPE)
    head_before = method.state.linear.weight.detach().clone()
    loss, sums = method.step(data.images[:16], data.labels[:16], torch.Generator().manual_seed(0))
    assert not torch.equal(head_before, method.state.linear.weight)
    # Nothing reached the encoder or the projector: only the engine's backward of `loss` will.
    assert all(p.grad is None for p in net.parameters())
    assert int(sums["probe_seen"]) == labelled_batch_size(40, 4)
    loss.backward()  # the contrastive loss reaches everything but the encoder's unused classifier
    assert all(p.grad is not None for n, p in net.named_parameters() if not n.startswith("encoder.fc."))


def test_online_probe_resumes_identically(tmp_path):
    net, data, _, method, _ = setup(RECIPE)
    full = fit(net, data, RECIPE, method, log=lambda s: None).history
    resume = ResumeFile(tmp_path / "state.pt", "h")
    net, data, _, method, _ = setup(RECIPE)
    fit(net, data, {**RECIPE, "epochs": 1}, method, resume=resume, log=lambda s: None)
    assert load_state(resume)["epoch"] == 1
    net, data, _, method, _ = setup(RECIPE)
    resumed = fit(net, data, RECIPE, method, resume=resume, log=lambda s: None).history
    for key in ("train_loss", "contrastive_acc", "probe_train_acc", "probe_val_acc"):
        assert [r[key] for r in resumed] == [r[key] for r in full], key


def test_refit_and_nt_xent_stay_the_default():
    default = pretraining_recipe(method="simclr")
    assert (default["loss"], default["probe"]) == ("nt_xent", "refit")


def study_with_pretraining(**keys) -> dict:
    study = copy.deepcopy(TINY_STUDY)
    study["pretrain"]["ssl"].update(keys)
    return study


@pytest.mark.parametrize(
    "keys, expected",
    [
        ({"probe": "online"}, "pretrain.ssl.probe: online needs method simclr and a probe_data subset"),
        ({"probe_val": "test"}, "pretrain.ssl.probe_val: only used by probe: online"),
        (
            {"probe": "online", "probe_data": "small", "probe_val": "big"},
            "pretrain.ssl.probe_val: subset 'big' may overlap probe_data 'small'",
        ),
        ({"probe_augment": "mixup"}, "pretrain.ssl.probe_augment: unknown augmentation 'mixup'"),
        ({"loss": "infonce"}, "pretrain.ssl.loss: 'infonce' is not one of"),
    ],
)
def test_online_probe_config_errors_name_the_key(keys, expected):
    with pytest.raises(ConfigError) as info:
        resolve_study("tiny", study_with_pretraining(**keys), "studies/tiny.yaml")
    assert expected in str(info.value)


def test_online_probe_with_its_validation_subset_is_valid():
    study = resolve_study(
        "tiny", study_with_pretraining(probe="online", probe_data="small", probe_val="test"), "x"
    )
    assert study.pretrain["ssl"]["probe_val"] == "test"


def test_contrast_labelled_puts_the_labelled_batch_into_the_contrastive_batch():
    """The Keras example's train_step: the step's labelled images join the contrastive batch. The
    encoder's first BatchNorm then also sees the labelled set: here all of it white, while the
    unlabelled images stay dark, so its running mean rises only with contrast_labelled."""
    bn_means = {}
    for contrast_labelled in (False, True):
        recipe = {**RECIPE, "epochs": 1, "contrast_labelled": contrast_labelled}
        torch.manual_seed(0)
        data = toy_set(64, 0)
        labelled = TensorSet(
            torch.full((40, 3, 16, 16), 255, dtype=torch.uint8), toy_set(40, 1).labels, ["a", "b"]
        )
        mean, std = channel_stats(data.images)
        encoder = build_model({**recipe["model"], "in_channels": 3, "num_classes": 2, "image_size": 16})
        net = PretrainNet(encoder, ProjectionHead(encoder.num_features, 16, 8, True))
        steps = steps_per_epoch(len(data), recipe["batch_size"])
        method = pretraining_method(net, recipe, mean, std, labelled, steps=steps)
        fit(net, data, recipe, method, log=lambda s: None)
        bn_means[contrast_labelled] = float(net.encoder.bn1.running_mean.mean())
    assert bn_means[True] > bn_means[False] + 0.05, bn_means


def test_contrast_labelled_needs_an_online_probe():
    study = copy.deepcopy(TINY_STUDY)
    study["pretrain"]["ssl"]["contrast_labelled"] = True
    with pytest.raises(ConfigError, match=r"pretrain\.ssl\.contrast_labelled: needs probe: online"):
        resolve_study("tiny", study, "studies/tiny.yaml")
