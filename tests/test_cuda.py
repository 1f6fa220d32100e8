"""The CUDA path: resident data, batch augmentation, bf16 autocast, channels_last, torch.compile,
checkpoints that move between GPU and CPU.

Runs only where a GPU is visible (a workstation, or a GPU session through
benchmarks/gpu_session.sh); CI and the build machines have none and skip it. Needs only torch,
numpy, pandas and pytest, so it also runs in a bare PyTorch image without snakemake."""

from __future__ import annotations

import json

import evaluate as evaluate_script
import numpy as np
import pytest
import torch
import train as train_script

from cvrepro.data.datasets.splits import write_info, write_split
from cvrepro.data.tensors import SubsetFiles, TensorSet, channel_stats
from cvrepro.jobs.job import Job
from cvrepro.nets.checkpoint import ModelFiles
from cvrepro.nets.device import set_precision
from cvrepro.nets.heads import ProjectionHead
from cvrepro.nets.inference import extract_features, predict
from cvrepro.nets.models import build_model
from cvrepro.train.engine import fit
from cvrepro.train.pretraining import PretrainNet, simclr
from cvrepro.train.supervised import supervised

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible")

CUDA = torch.device("cuda")
# Complete recipes written out (the schema's defaults filled in by hand): this file needs no
# jsonschema, so it runs in a bare PyTorch image.
SGD = {
    "name": "sgd",
    "lr": 0.05,
    "momentum": 0.9,
    "nesterov": False,
    "weight_decay": 0.0,
    "betas": [0.9, 0.999],
}
SCHEDULE = {"name": "cosine", "t_max": None, "step_size": 30, "gamma": 0.1, "warmup_epochs": 0}
MODEL = {
    "arch": "resnet18",
    "stem": "cifar",
    "width": 16,
    "head": {"kind": "linear", "dropout": 0.0, "hidden": 512},
}
HP = {
    "model": MODEL,
    "init": "scratch",
    "normalize": "auto",
    "freeze": {"children": 0, "stages": []},
    "epochs": 3,
    "batch_size": 64,
    "eval_batch_size": 512,
    "optimizer": SGD,
    "schedule": SCHEDULE,
    "augment": "crop_flip",
    "loss": {
        "name": "ce",
        "weight": 1.0,
        "margin": 1.0,
        "mining": "batch_all",
        "distance": "euclidean",
        "alpha": 0.5,
    },
    "early_stopping": None,
    "grad_flow": True,
    "seed": 0,
}
ARCH = {**MODEL, "in_channels": 3, "num_classes": 2, "image_size": 32}


def train_on(net, train, val, recipe):
    mean, std = channel_stats(train.images)
    method = supervised(net, recipe, mean, std, 2, val)
    return fit(
        net,
        train,
        recipe,
        method,
        watch_grads=recipe["grad_flow_per"] if recipe["grad_flow"] else None,
        log=lambda s: None,
    )


def easy_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Dark vs bright 32x32x3 noise images (uint8, N x H x W x C as prepared datasets store them)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.integers(0, 100, (n, 32, 32, 3)) + labels[:, None, None, None] * 120
    return images.astype(np.uint8), labels.astype(np.int64)


def easy_set(n: int, seed: int = 0, device: torch.device = CUDA) -> TensorSet:
    images, labels = easy_images(n, seed)
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    return TensorSet(tensor.to(device), torch.from_numpy(labels).to(device), ["dark", "bright"])


def test_fit_on_cuda_runs_bf16_channels_last_on_resident_data_and_learns():
    set_precision("auto")
    torch.manual_seed(0)
    train, val = easy_set(512), easy_set(256, seed=1)
    net = build_model(ARCH).to(CUDA, memory_format=torch.channels_last)
    seen = []
    net.conv1.register_forward_hook(
        lambda m, i, out: seen.append((i[0].is_contiguous(memory_format=torch.channels_last), out.dtype))
    )
    result = train_on(net, train, val, HP)
    assert set(seen) == {(True, torch.bfloat16)}
    assert all(p.device.type == "cuda" and p.dtype == torch.float32 for p in net.parameters())
    assert result.history[-1]["val_acc"] > 0.9 and np.isfinite(result.history[-1]["train_loss"])
    # grad flow summed on the device and read once per epoch: one row per weight matrix and epoch
    assert {row["epoch"] for row in result.grad_flow} == {1, 2, 3}
    assert all(np.isfinite(row["mean_abs_grad"]) for row in result.grad_flow)


def test_predict_on_cuda_in_fp32_matches_the_cpu():
    set_precision("fp32")
    torch.manual_seed(0)
    net = build_model(ARCH).eval()
    data = easy_set(64, device=torch.device("cpu"))
    mean, std = channel_stats(data.images)
    on_cpu = predict(net, data, 32, mean, std, 40)  # also through the eval-time resize
    on_gpu = predict(net.to(CUDA), easy_set(64), 32, mean, std, 40).cpu()
    assert torch.allclose(on_cpu, on_gpu, atol=1e-3, rtol=1e-3)


def test_train_on_cuda_and_evaluate_the_checkpoint_on_the_cpu(tmp_path):
    images, labels = easy_images(384)
    write_split(tmp_path / "data", "train", images, labels)
    write_info(tmp_path / "data", "easy", ["dark", "bright"], {"train": len(labels)}, {})
    np.save(tmp_path / "train.npy", np.arange(256))
    np.save(tmp_path / "test.npy", np.arange(256, 384))
    set_precision("auto")
    train_script.main(
        {**HP, "grad_flow": False},
        train=SubsetFiles(tmp_path / "data", "train", tmp_path / "train.npy"),
        val=None,
        init=None,
        out=ModelFiles(
            tmp_path / "model.pt",
            tmp_path / "history.csv",
            tmp_path / "metrics.json",
            grad_flow=tmp_path / "grad_flow.csv",
        ),
        ctx=Job(CUDA),
    )
    metrics = evaluate_script.main(
        tmp_path / "model.pt",
        SubsetFiles(tmp_path / "data", "train", tmp_path / "test.npy"),
        tmp_path / "eval.json",
        tmp_path / "predictions.npz",
        ctx=Job(torch.device("cpu")),
        batch_size=1024,
    )
    assert metrics["test_acc"] > 0.9
    provenance = json.loads((tmp_path / "eval.json").read_text())["provenance"]
    assert torch.cuda.get_device_name() in provenance["device"] and "bf16 autocast" in provenance["device"]
    assert provenance["eval_device"].startswith("cpu (")


def test_simclr_pretraining_and_feature_extraction_on_cuda():
    set_precision("auto")
    torch.manual_seed(0)
    data = easy_set(512)
    mean, std = channel_stats(data.images)
    encoder = build_model({**ARCH, "num_classes": 10})
    net = PretrainNet(encoder, ProjectionHead(encoder.num_features, 64, 32, True)).to(
        CUDA, memory_format=torch.channels_last
    )
    hp = {
        "method": "simclr",
        "epochs": 2,
        "batch_size": 128,
        "optimizer": {**SGD, "name": "adam", "lr": 2e-3},
        "temperature": 0.5,
        "loss": "nt_xent",
        "probe": "refit",
        "seed": 0,
        "schedule": SCHEDULE,
        "augment": {"name": "simclr", "grayscale_p": 0.0, "scale": [0.3, 1.0]},
    }
    history = fit(net, data, hp, simclr(net, hp, mean, std, None), log=lambda s: None).history
    assert all(np.isfinite(row["train_loss"]) for row in history)
    features = extract_features(encoder, data, mean, std, None, "penultimate", batch_size=256)
    assert isinstance(features, np.ndarray) and features.shape == (512, encoder.num_features)
    assert features.dtype == np.float32 and np.isfinite(features).all()


def test_compiled_training_on_cuda_uses_inductor_without_falling_back(monkeypatch, recwarn):
    monkeypatch.setenv("CVREPRO_COMPILE", "1")
    set_precision("auto")
    torch.manual_seed(0)
    train = easy_set(256)
    net = build_model(ARCH).to(CUDA, memory_format=torch.channels_last)
    result = train_on(net, train, None, {**HP, "epochs": 1})
    assert np.isfinite(result.history[-1]["train_loss"])
    assert not [w for w in recwarn if "torch.compile unavailable" in str(w.message)]
    assert all(not key.startswith("_orig_mod") for key in net.state_dict())
