"""Models, batch augmentation and the training loop on tiny CPU data."""

from __future__ import annotations

import pytest
import torch

from cvrepro.data.batch_augment import augment_batch, random_crop
from cvrepro.data.tensors import TensorSet, channel_stats
from cvrepro.jobs.recipes import run_recipe
from cvrepro.nets.checkpoint import init_from_checkpoint, load_model, save_checkpoint
from cvrepro.nets.models import ResNet, build_model
from cvrepro.train.engine import fit
from cvrepro.train.supervised import supervised

MODEL = run_recipe()["model"]


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_resnet_with_imagenet_stem_is_torchvisions_resnet(arch):
    """Our blocks are torchvision's: the same state dict keys and shapes, the same outputs, and
    the same initial weights from the same seed (modules created and initialised in its order)."""
    import torchvision.models

    torch.manual_seed(0)
    ours = ResNet(arch=arch, num_classes=1000, in_channels=3, width=64, stem="imagenet")
    torch.manual_seed(0)
    reference = getattr(torchvision.models, arch)()
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in reference.state_dict().items()
    ]
    for (name, mine), theirs in zip(ours.state_dict().items(), reference.state_dict().values(), strict=True):
        assert torch.equal(mine, theirs), name
    reference.layer4[0].conv2.weight.data.normal_()  # a different network: outputs must follow the weights
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    assert torch.allclose(ours.eval()(x), reference.eval()(x), atol=1e-5)


def test_width_and_cifar_stem_shapes():
    net = build_model({**MODEL, "width": 8, "in_channels": 1, "num_classes": 7, "image_size": 28})
    assert net(torch.randn(3, 1, 28, 28)).shape == (3, 7)
    assert net.features(torch.randn(3, 1, 28, 28)).shape == (3, 64)


def test_random_crop_is_a_shifted_window_of_the_padded_image():
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).view(2, 3, 5, 5)
    g = torch.Generator().manual_seed(0)
    out = random_crop(x, 2, g)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        windows = [padded[i, :, dy : dy + 5, dx : dx + 5] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)


def test_augmentation_is_seeded_and_unknown_names_fail():
    x = torch.randn(8, 3, 12, 12)
    a = augment_batch(x, "crop_flip", torch.Generator().manual_seed(1))
    b = augment_batch(x, "crop_flip", torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, x)
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'"):
        augment_batch(x, "rotate", torch.Generator())


def separable_set(n: int = 256, seed: int = 0) -> TensorSet:
    """Two classes that differ in brightness: learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = (torch.rand(n, 1, 12, 12, generator=g) * 100 + labels[:, None, None, None] * 120).to(torch.uint8)
    return TensorSet(images, labels, ["dark", "bright"])


def train_tiny(seed: int = 0):
    torch.manual_seed(seed)
    data = separable_set()
    mean, std = channel_stats(data.images)
    net = build_model({**MODEL, "width": 4, "in_channels": 1, "num_classes": 2, "image_size": 12})
    hp = run_recipe(
        epochs=3,
        batch_size=32,
        eval_batch_size=128,
        augment="flip",
        seed=seed,
        optimizer={"name": "sgd", "lr": 0.05, "weight_decay": 0.0},
    )
    history = fit(net, data, hp, supervised(net, hp, mean, std, 2, data), log=lambda s: None).history
    return net, history


def test_fit_learns_and_is_deterministic_on_cpu():
    net_a, hist_a = train_tiny(0)
    net_b, hist_b = train_tiny(0)
    assert hist_a[-1]["val_acc"] > 0.9
    assert [r["train_loss"] for r in hist_a] == [r["train_loss"] for r in hist_b]
    for p, q in zip(net_a.parameters(), net_b.parameters(), strict=True):
        assert torch.equal(p, q)


def test_checkpoint_round_trip_weights_only_and_head_replacement(tmp_path):
    net, _ = train_tiny(0)
    arch = {**MODEL, "width": 4, "in_channels": 1, "num_classes": 2, "image_size": 12}
    save_checkpoint(
        tmp_path / "m.pt", net, arch=arch, recipe={"lr": 0.1}, normalization={"mean": [0.5], "std": [0.2]}
    )
    loaded, checkpoint = load_model(tmp_path / "m.pt")  # torch.load(weights_only=True) inside
    x = torch.randn(4, 1, 12, 12)
    assert torch.allclose(loaded(x), net.eval()(x))
    other = build_model({**arch, "num_classes": 5})
    fresh = init_from_checkpoint(other, checkpoint, "m.pt")
    assert fresh == ["fc.bias", "fc.weight"]
    assert torch.equal(other.conv1.weight, net.conv1.weight)
    wider = build_model({**arch, "width": 8})
    with pytest.raises(ValueError, match="conv1.weight has shape"):
        init_from_checkpoint(wider, checkpoint, "m.pt")


def test_a_head_with_extra_outputs_trains_and_predicts_over_all_of_them():
    """model.head.outputs wider than the classes (S6's Keras Dense(20) for 10): train.py builds
    that many outputs; the targets are the classes only, so training pushes the others down."""
    import train as train_script

    from cvrepro.jobs.job import Job
    from cvrepro.nets.inference import predict

    torch.manual_seed(0)
    data = separable_set()
    run = run_recipe(
        model={**MODEL, "width": 4, "head": {"outputs": 6}},
        epochs=3,
        batch_size=32,
        augment="flip",
        optimizer={"name": "sgd", "lr": 0.05, "weight_decay": 0.0},
    )
    net, arch, _ = train_script.build_network(run, data, None, Job(torch.device("cpu")))
    assert arch["num_classes"] == 6
    mean, std = channel_stats(data.images)
    fit(net, data, run, supervised(net, run, mean, std, 2, None), log=lambda line: None)
    with torch.no_grad():
        logits = predict(net, data, 128, mean, std, None)
    assert logits.shape == (256, 6)
    assert (logits.argmax(1) < 2).all()  # no image predicted on an output that is no class
    assert (logits.argmax(1) == data.labels).float().mean() > 0.9


def test_the_done_line_says_when_the_epoch_lines_saw_augmented_batches():
    import train as train_script

    metrics = {"train_acc": 0.9, "val_acc": None, "train_time_s": 2.0}
    plain = train_script.done_line(run_recipe(augment="none"), metrics)
    assert plain == "done: train_acc 0.9000  2.0s training"
    for run in (
        run_recipe(augment="flip"),
        run_recipe(augment={"name": "crop_flip", "flip_p": 0.0}),
        run_recipe(loss={"name": "ce", "mixup_alpha": 0.2}),
    ):
        assert "(clean images; the epoch lines' are on augmented batches)" in train_script.done_line(
            run, metrics
        )
