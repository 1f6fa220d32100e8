"""SimCLR and triplet pretraining, feature extraction and probes on real code paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, silhouette_score

from conftest import fashion_subsets, needs_fashion_mnist
from cvrepro.data.tensors import SubsetFiles, TensorSet, channel_stats
from cvrepro.evaluate.metrics import classification_metrics
from cvrepro.evaluate.probes import dunn_index, fit_probe, representation_metrics, scores
from cvrepro.jobs.job import Job
from cvrepro.jobs.recipes import pretraining_recipe, probe_recipe, run_recipe
from cvrepro.nets.device import place_model
from cvrepro.nets.heads import ProjectionHead
from cvrepro.nets.inference import extract_features, layer_output
from cvrepro.nets.models import build_model
from cvrepro.train.engine import fit
from cvrepro.train.methods import pretraining_method
from cvrepro.train.pretraining import PretrainNet

OPTIMIZER = {"name": "adam", "lr": 2e-3, "weight_decay": 1e-6}
MODEL = run_recipe()["model"]


def features(encoder, data, mean, std):
    return extract_features(encoder, data, mean, std, None, "penultimate")


def pretrain(net: PretrainNet, data: TensorSet, recipe: dict, mean, std, probe=None) -> list[dict]:
    method = pretraining_method(net, recipe, mean, std, probe)
    return fit(net, data, recipe, method, log=lambda s: None).history


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    """Real Fashion-MNIST: 1,200 images to pretrain on, 1,000 to fit probes, 1,000 to score them."""
    return fashion_subsets(tmp_path_factory.mktemp("fashion"), 1200)


def probe_accuracy(encoder, sets, mean, std) -> float:
    fit_x = features(encoder, sets["fit"], mean, std)
    model, _ = fit_probe(probe_recipe(kind="softmax"), fit_x, sets["fit"].labels.numpy())
    return model.score(features(encoder, sets["score"], mean, std), sets["score"].labels.numpy())


@needs_fashion_mnist
def test_simclr_pretraining_beats_a_random_encoder_under_a_linear_probe(fashion):
    mean, std = channel_stats(fashion["pretrain"].images)
    spec = {**MODEL, "arch": "resnet18", "width": 8, "in_channels": 1, "num_classes": 10, "image_size": 28}
    torch.manual_seed(0)
    random_encoder = build_model(spec)
    random_acc = probe_accuracy(random_encoder, fashion, mean, std)
    torch.manual_seed(0)
    encoder = build_model(spec)
    # width 8: contiguous on the CPU (cvrepro.nets.device.memory_format: oneDNN's narrow-net crash)
    net = place_model(
        PretrainNet(encoder, ProjectionHead(encoder.num_features, 256, 64, True)), torch.device("cpu"), 28
    )
    hp = pretraining_recipe(
        method="simclr",
        epochs=6,
        batch_size=256,
        optimizer=OPTIMIZER,
        temperature=0.5,
        augment={"name": "simclr", "grayscale_p": 0.0, "scale": [0.3, 1.0]},
    )
    history = pretrain(net, fashion["pretrain"], hp, mean, std, probe=fashion["fit"])
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["contrastive_acc"] > history[0]["contrastive_acc"]
    assert "probe_acc" in history[-1]
    simclr_acc = probe_accuracy(net.encoder, fashion, mean, std)
    # Measured 0.678 vs 0.597 on the 2-core build machine with 2 threads, and 0.676 vs 0.597 with the one
    # thread each test worker has (n = 1,000 scored images; 6 epochs of 1,200 images).
    assert simclr_acc > random_acc + 0.05, (simclr_acc, random_acc)


def test_triplet_pretraining_separates_classes():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(256) % 4
    images = torch.rand(256, 1, 12, 12, generator=g) * 60
    for c in range(4):  # each class brightens its own quadrant
        images[labels == c, :, (c // 2) * 6 : (c // 2) * 6 + 6, (c % 2) * 6 : (c % 2) * 6 + 6] += 150
    data = TensorSet(images.to(torch.uint8), labels, ["a", "b", "c", "d"])
    mean, std = channel_stats(data.images)
    torch.manual_seed(0)
    encoder = build_model(
        {**MODEL, "arch": "convnet4", "width": 16, "in_channels": 1, "num_classes": 4, "image_size": 12}
    )
    before = representation_metrics(features(encoder, data, mean, std), labels.numpy(), 0)["silhouette"]
    hp = pretraining_recipe(
        method="triplet",
        epochs=5,
        batch_size=64,
        optimizer=OPTIMIZER,
        augment="none",
        schedule={"name": "constant"},
        triplet={"margin": 1.0, "distance": "euclidean", "mining": "batch_all"},
    )
    history = pretrain(PretrainNet(encoder, None), data, hp, mean, std)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    after = representation_metrics(features(encoder, data, mean, std), labels.numpy(), 0)["silhouette"]
    assert after > before + 0.1, (before, after)


def blobs(n: int = 300, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, 8)) * 0.5 + np.eye(classes, 8)[y] * 4
    return x, y


@pytest.mark.parametrize("kind", ["svm", "softmax", "knn", "pca"])
def test_probes_on_separable_data_agree_with_sklearn_metrics(kind):
    x, y = blobs()
    xt, yt = blobs(seed=1)
    probe = probe_recipe(kind=kind, components=3, patience=5 if kind == "softmax" else None)
    model, seconds = fit_probe(probe, x, y)
    s = scores(model, xt, 3)
    metrics = classification_metrics(yt, s, ["a", "b", "c"])
    predictions = s.argmax(1)
    assert metrics["test_acc"] > 0.95 and seconds >= 0
    assert metrics["test_acc"] == pytest.approx(accuracy_score(yt, predictions))
    assert metrics["macro_f1"] == pytest.approx(f1_score(yt, predictions, average="macro"))
    assert np.array_equal(predictions, model.predict(xt))


def test_binary_logistic_probe():
    x, y = blobs(classes=2)
    model, _ = fit_probe(probe_recipe(kind="logistic"), x, y)
    s = scores(model, x, 2)
    assert s.shape == (300, 2) and (s.argmax(1) == y).mean() > 0.95


def test_dunn_index_against_brute_force_and_silhouette_is_sklearns():
    x, y = blobs(30)
    intra = max(np.linalg.norm(a - b) for c in range(3) for a in x[y == c] for b in x[y == c])
    inter = min(
        np.linalg.norm(a - b)
        for c in range(3)
        for d in range(3)
        if c != d
        for a in x[y == c]
        for b in x[y == d]
    )
    assert dunn_index(x, y) == pytest.approx(inter / intra)
    assert representation_metrics(x, y, 0)["silhouette"] == pytest.approx(silhouette_score(x, y))
    with pytest.raises(ValueError, match="unknown probe 'tree'"):
        fit_probe({**probe_recipe(kind="svm"), "kind": "tree"}, x, y)


def test_layer_outputs_are_pooled_and_unknown_layers_fail():
    net = build_model(
        {**MODEL, "arch": "resnet18", "width": 4, "in_channels": 3, "num_classes": 5, "image_size": 32}
    ).eval()
    x = torch.randn(2, 3, 32, 32)
    assert layer_output(net, x, "layer3").shape == (2, 16)
    assert layer_output(net, x, "layer4.1").shape == (2, 32)
    assert torch.equal(layer_output(net, x, "penultimate"), net.features(x))
    with pytest.raises(ValueError, match="no layer 'layer9'"):
        layer_output(net, x, "layer9")


def test_imagenet_features_match_torchvision(tmp_path, monkeypatch):
    """`imagenet_resnet18` features: torchvision's weights API (a cache this test fills), 224 px, penultimate."""
    import extract as extract_script
    from torchvision.models import resnet18

    from cvrepro.data.datasets.splits import write_info, write_split
    from cvrepro.nets.device import set_precision
    from cvrepro.nets.pretrained import IMAGENET_MEAN, IMAGENET_STD, imagenet_weights

    reference = resnet18().eval()
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(
        reference.state_dict(), cache / imagenet_weights("resnet18", "IMAGENET1K_V1").url.rsplit("/", 1)[-1]
    )
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("CVREPRO_TRUST_WEIGHTS_CACHE", "test: random weights under torchvision's file name")
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    write_split(tmp_path / "data", "test", images, np.array([0, 1, 0]))
    write_info(tmp_path / "data", "toy", ["a", "b"], {"test": 3}, {})
    np.save(tmp_path / "index.npy", np.arange(3))
    set_precision("fp32")  # torchvision's reference runs in float32
    extracted = extract_script.main(
        SubsetFiles(tmp_path / "data", "test", tmp_path / "index.npy"),
        tmp_path / "f.npz",
        model_path=None,
        imagenet_arch="resnet18",
        layer="penultimate",
        ctx=Job(torch.device("cpu"), imagenet_weights="IMAGENET1K_V1"),
    )
    x = torch.nn.functional.interpolate(
        torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255,
        size=(224, 224),
        mode="bilinear",
        align_corners=False,
    )
    x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        # torchvision's forward up to (not including) fc, via a hook on avgpool.
        pooled = []
        handle = reference.avgpool.register_forward_hook(lambda module, inputs, output: pooled.append(output))
        reference(x)
        handle.remove()
        expected = torch.flatten(pooled[0], 1)
    assert extracted.shape == (3, 512)
    assert np.allclose(extracted, expected.numpy(), atol=1e-4)
