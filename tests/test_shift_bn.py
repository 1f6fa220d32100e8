"""Corruption shift sets and the BatchNorm sweep (eval vs batch statistics vs adapted statistics)."""

from __future__ import annotations

import copy
import hashlib

import numpy as np
import pytest
import torch
from torch import nn

from conftest import FMNIST_DIR
from cvrepro.data.corruptions import CORRUPTIONS, corrupt
from cvrepro.data.tensors import TensorSet
from cvrepro.evaluate.bn_modes import accuracies, bn_sweep, grouped_logits
from cvrepro.nets.checkpoint import save_checkpoint
from cvrepro.nets.device import set_precision
from cvrepro.nets.models import build_model

IMAGES = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruption_shape_dtype_range_and_determinism(name):
    for severity in (1, 3, 5):
        out = corrupt(IMAGES, name, severity, seed=3)
        assert out.shape == IMAGES.shape and out.dtype == np.uint8
        assert np.array_equal(out, corrupt(IMAGES, name, severity, seed=3))
    gray = corrupt(IMAGES[..., :1], name, 2, 0)
    assert gray.shape == (64, 32, 32, 1)


def test_at_least_ten_corruptions_of_cifar10_c_and_bad_arguments():
    assert len(CORRUPTIONS) >= 10
    with pytest.raises(ValueError, match="unknown corruption 'snow'"):
        corrupt(IMAGES, "snow", 1, 0)
    with pytest.raises(ValueError, match="severity must be one of"):
        corrupt(IMAGES, "fog", 6, 0)


def test_noise_grows_with_severity():
    change = [
        np.abs(corrupt(IMAGES, "gaussian_noise", s, 0).astype(int) - IMAGES).mean() for s in range(1, 6)
    ]
    assert change == sorted(change)


@pytest.mark.skipif(
    not (FMNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(), reason="Fashion-MNIST not installed"
)
def test_accuracy_of_a_fixed_model_does_not_rise_with_severity():
    """A fixed classifier (logistic regression on Fashion-MNIST pixels): mean accuracy over
    corruptions falls from severity 1 to 5 and never rises by more than noise in between."""
    from sklearn.linear_model import LogisticRegression

    from cvrepro.data.datasets.readers import read_idx

    images = read_idx(FMNIST_DIR / "t10k-images-idx3-ubyte.gz")[..., None]
    labels = read_idx(FMNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    model = LogisticRegression(max_iter=300).fit(images[:3000].reshape(3000, -1) / 255, labels[:3000])
    test_x, test_y = images[5000:6000], labels[5000:6000]
    means = []
    for severity in range(1, 6):
        accs = [
            model.score(corrupt(test_x, c, severity, 0).reshape(1000, -1) / 255, test_y) for c in CORRUPTIONS
        ]
        means.append(np.mean(accs))
    assert means[-1] < means[0] - 0.05, means
    assert all(b <= a + 0.02 for a, b in zip(means, means[1:], strict=False)), means


class TinyBNNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 2)

    def features(self, x):
        return torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3))

    def forward(self, x):
        return self.fc(self.features(x))


def two_class_images(n: int, shift: float, seed: int) -> TensorSet:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    base = torch.rand(n, 1, 8, 8, generator=g) * 40 + 40
    base[labels == 1, :, :4] += 80  # class 1: bright top half
    return TensorSet((base + shift).clamp(0, 255).to(torch.uint8), labels, ["a", "b"])


def test_batch_statistics_recover_what_eval_mode_loses_and_the_checkpoint_is_unchanged(tmp_path):
    torch.manual_seed(0)
    net = TinyBNNet()
    clean = two_class_images(512, 0, 0)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(150):
        net.train()
        x = clean.images.float() / 255
        loss = nn.functional.cross_entropy(net(x), clean.labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    arch = {"arch": "resnet18", "in_channels": 1, "num_classes": 2}  # placeholder spec: not rebuilt here
    path = tmp_path / "model.pt"
    save_checkpoint(path, net, arch=arch)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    state_before = {k: v.clone() for k, v in net.state_dict().items()}

    shifted = two_class_images(512, 90, 1)  # brightness shift: BN's running mean no longer fits
    mean, std = [0.0], [1.0]
    order = torch.arange(len(shifted))

    def accuracy(data, mode, batch_size, prior=16.0):
        return accuracies(net, data, [mode], batch_size, mean, std, order, prior)[mode]

    assert accuracy(clean, "eval", 32) > 0.95
    eval_acc = accuracy(shifted, "eval", 32)
    train_acc = accuracy(shifted, "train", 32)
    # Adapted statistics weigh the source by N/(N+n): with n = 256 images per batch they mostly follow the target.
    adapt_acc = accuracy(shifted, "adapt", 256, prior=8.0)
    assert accuracy(shifted, "adapt", 256, prior=1e9) == pytest.approx(eval_acc, abs=0.02)
    assert eval_acc < 0.7 and train_acc > eval_acc + 0.2 and adapt_acc > eval_acc + 0.2, (
        eval_acc,
        train_acc,
        adapt_acc,
    )

    sweep = {
        "batch_sizes": [4, 8, 16, 32],
        "modes": ["eval", "train", "adapt"],
        "orders": ["shuffled", "class_sorted"],
    }
    rows = bn_sweep(net, shifted, mean, std, {**sweep, "prior": 16.0, "seed": 0})
    assert len(rows) == 3 * 4 * 2
    sorted_train = [r["accuracy"] for r in rows if r["mode"] == "train" and r["order"] == "class_sorted"]
    shuffled_train = [r["accuracy"] for r in rows if r["mode"] == "train" and r["order"] == "shuffled"]
    assert np.mean(sorted_train) < np.mean(shuffled_train)  # one-class batches break batch statistics
    # Nothing leaked: the model in memory and the file on disk are as they were.
    for key, value in net.state_dict().items():
        assert torch.equal(value, state_before[key]), key
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("mode", ["train", "adapt"])
def test_grouped_batchnorm_equals_torch_batchnorm_one_batch_at_a_time(mode):
    """The sweep's one-pass grouped BN against torch's own BatchNorm run batch by batch: train
    mode (momentum 0: each batch's statistics) and adapt (one train pass with momentum
    n/(N+n) from the source statistics, then an eval pass), as Schneider et al. do it."""
    torch.manual_seed(0)
    net = build_model(
        {
            "arch": "resnet18",
            "stem": "cifar",
            "width": 4,
            "head": {"kind": "linear", "dropout": 0.0, "hidden": 1},
            "in_channels": 1,
            "num_classes": 3,
            "image_size": 12,
        }
    )
    net.train()
    with torch.no_grad():  # running statistics that differ from any test batch's
        for _ in range(3):
            net(torch.randn(32, 1, 12, 12) * 1.5 + 0.3)
    net.eval()
    x, batch, prior = torch.randn(40, 1, 12, 12), 8, 16.0
    reference = []
    for chunk in x.split(batch):
        copy_ = copy.deepcopy(net)
        for layer in [m for m in copy_.modules() if isinstance(m, nn.BatchNorm2d)]:
            layer.train()
            layer.momentum = 0.0 if mode == "train" else batch / (prior + batch)
        with torch.no_grad():
            out = copy_(chunk)
            if mode == "adapt":
                out = copy_.eval()(chunk)
        reference.append(out)
    set_precision("fp32")  # the BN arithmetic itself, not bf16 convolutions, is under test
    ours = grouped_logits(net, x, [mode], batch, prior)[mode]
    torch.testing.assert_close(ours, torch.cat(reference), atol=1e-5, rtol=1e-4)
    set_precision("auto")
    both = grouped_logits(net, x, ["train", "adapt"], batch, prior)  # adapt reuses train's pass
    torch.testing.assert_close(both[mode], grouped_logits(net, x, [mode], batch, prior)[mode])


def test_batches_holding_every_image_reuse_one_pass_and_agree_with_direct_passes():
    """Test batches of at least the whole set are one batch of every image, whatever the order:
    the sweep computes that once; each cell still equals its own direct computation."""
    torch.manual_seed(0)
    net = TinyBNNet().eval()
    data = two_class_images(24, 40, 2)
    sweep = {
        "batch_sizes": [8, 24, 64],
        "modes": ["eval", "train", "adapt"],
        "orders": ["shuffled", "class_sorted"],
    }
    rows = bn_sweep(net, data, [0.0], [1.0], {**sweep, "prior": 16.0, "seed": 0})
    orders = {
        "shuffled": torch.randperm(len(data), generator=torch.Generator().manual_seed(0)),
        "class_sorted": torch.argsort(data.labels, stable=True),
    }
    for row in rows:
        direct = accuracies(
            net, data, [row["mode"]], row["batch_size"], [0.0], [1.0], orders[row["order"]], 16.0
        )
        assert row["accuracy"] == direct[row["mode"]], row
