"""Feature extraction (cvrepro.nets.inference.extract_features) and SimCLR pretraining (cvrepro.train.engine.fit
with cvrepro.train.methods.simclr) throughput on one image set, as the workflow's extract and pretrain
rules run them."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from bench_data import BenchSet  # noqa: E402
from train_throughput import model_spec, tensor_set, timed  # noqa: E402

from cvrepro.data.tensors import TensorSet, channel_stats  # noqa: E402
from cvrepro.jobs.recipes import pretraining_recipe  # noqa: E402
from cvrepro.nets.device import place_model  # noqa: E402
from cvrepro.nets.heads import ProjectionHead  # noqa: E402
from cvrepro.nets.inference import extract_features  # noqa: E402
from cvrepro.nets.models import build_model  # noqa: E402
from cvrepro.train.engine import fit  # noqa: E402
from cvrepro.train.methods import pretraining_method  # noqa: E402
from cvrepro.train.pretraining import PretrainNet  # noqa: E402


def extraction_throughput(bench_set: BenchSet, width: int, batch_size: int, device: torch.device) -> float:
    """Images/s of penultimate-layer features for the whole set, after a one-batch warm-up."""
    torch.manual_seed(0)
    model = place_model(build_model(model_spec(bench_set.images, width)), device, bench_set.images.shape[1])
    data = tensor_set(bench_set.images, bench_set.labels, device)
    mean, std = channel_stats(data.images)
    warm = TensorSet(data.images[:batch_size], data.labels[:batch_size], data.classes)
    extract_features(
        model, warm, mean, std, None, "penultimate", batch_size
    )  # cuDNN autotuning, allocator warm-up
    seconds = timed(lambda: extract_features(model, data, mean, std, None, "penultimate", batch_size), device)
    return len(data) / seconds


def simclr_recipe(batch_size: int, epochs: int) -> dict:
    """The default study's SimCLR recipe (config.yaml, pretrain.simclr_5k)."""
    return pretraining_recipe(
        method="simclr",
        epochs=epochs,
        batch_size=batch_size,
        optimizer={"name": "adam", "lr": 0.002, "weight_decay": 1e-6},
        augment={"name": "simclr", "grayscale_p": 0.0, "scale": [0.3, 1.0]},
        temperature=0.5,
    )


def simclr_throughput(
    bench_set: BenchSet, width: int, batch_size: int, device: torch.device, epochs: int
) -> float:
    """Images/s (each image makes two views) of SimCLR epochs after one warm-up epoch."""
    torch.manual_seed(0)
    encoder = build_model(model_spec(bench_set.images, width))
    model = PretrainNet(encoder, ProjectionHead(encoder.num_features, 512, 128, True))
    model = place_model(model, device, bench_set.images.shape[1])
    data = tensor_set(bench_set.images, bench_set.labels, device)
    mean, std = channel_stats(data.images)
    recipe = simclr_recipe(batch_size, 1 + epochs)
    history = fit(
        model, data, recipe, pretraining_method(model, recipe, mean, std, None), log=lambda line: None
    ).history
    seconds = sum(row["epoch_seconds"] for row in history[1:])
    return len(data) * epochs / seconds
