"""Full Fashion-MNIST: a ResNet-18 (CIFAR stem) trained by cvrepro's engine on all 60,000
training images for a few epochs; test accuracy on all 10,000 test images and the seconds it took.
Meant for a GPU (about a minute there); on the 2-core CPU it would take most of an hour."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from bench_data import fashion_mnist  # noqa: E402
from bench_ssl import on_device  # noqa: E402
from train_throughput import model_spec, sync  # noqa: E402

from cvrepro.data import channel_stats  # noqa: E402
from cvrepro.models import build_model  # noqa: E402
from cvrepro.training import evaluate, fit, memory_format  # noqa: E402


def hparams(epochs: int, batch_size: int) -> dict:
    return {
        "epochs": epochs,
        "batch_size": batch_size,
        "eval_batch_size": 2048,
        "optimizer": {
            "name": "sgd",
            "lr": 0.1 * batch_size / 256,  # the linear scaling rule from 0.1 at batch 256
            "momentum": 0.9,
            "nesterov": True,
            "weight_decay": 5e-4,
            "betas": [0.9, 0.999],
        },
        "schedule": {"name": "cosine", "warmup_epochs": 1 if epochs > 2 else 0},
        "augment": "crop_flip",
        "loss": {"name": "ce"},
        "early_stopping": None,
        "grad_flow": False,
        "seed": 0,
    }


def fmnist_accuracy(
    width: int,
    batch_size: int,
    epochs: int,
    device: torch.device,
    train_size: int = 60_000,
    test_size: int = 10_000,
) -> dict:
    """{'test_acc', 'train_seconds', 'total_seconds', 'train', 'test'} of one run."""
    start = time.perf_counter()
    train_set, test_set = fashion_mnist(train_size, "train"), fashion_mnist(test_size, "test")
    train, test = on_device(train_set, device), on_device(test_set, device)
    mean, std = channel_stats(train.images)
    torch.manual_seed(0)
    model = build_model(model_spec(train_set.images, width)).to(
        device, memory_format=memory_format(device, train_set.images.shape[1])
    )
    sync(device)
    fit_start = time.perf_counter()
    fit(model, train, None, hparams(epochs, batch_size), mean, std, log=lambda line: None)
    sync(device)
    train_seconds = time.perf_counter() - fit_start
    scores = evaluate(model, test, 2048, mean, std)
    return {
        "test_acc": scores["acc"],
        "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - start,
        "train": train_set.describe(),
        "test": test_set.describe(),
    }
