"""A prepared subset too large for the memory available is read from disk (issue 36: "a prepared
split larger than free memory is read memory-mapped, so it still trains"): forced here on a small
split by its threshold, it gives the same tensors, batches and training as the in-memory path."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cvrepro.data.datasets.splits import write_info, write_split
from cvrepro.data.tensors import available_memory, channel_stats, load_subset
from cvrepro.jobs.recipes import run_recipe
from cvrepro.nets.models import build_model
from cvrepro.train.engine import fit
from cvrepro.train.supervised import supervised


def prepared(tmp_path: Path) -> tuple[Path, Path]:
    """A split of 300 grey 12-px images of two classes that differ in brightness, and a subset of 200."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    images = (rng.random((300, 12, 12, 1)) * 100 + labels[:, None, None, None] * 120).astype(np.uint8)
    write_split(tmp_path / "data", "train", images, labels)
    write_info(tmp_path / "data", "toy", ["dark", "bright"], {"train": 300}, {})
    index = tmp_path / "index.npy"
    np.save(index, rng.permutation(300)[:200])
    return tmp_path / "data", index


def file_backed(tensor: torch.Tensor) -> bool:
    """Whether the tensor's memory lies in a mapping of a file (/proc/self/maps names one)."""
    address = tensor.data_ptr()
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if start <= address < end:
            return len(fields) == 6 and fields[5].startswith("/")
    return False


def trained(data) -> tuple[list[float], list[torch.Tensor]]:
    torch.manual_seed(0)
    mean, std = channel_stats(data.images)
    model = {**run_recipe()["model"], "arch": "small_cnn", "width": 4}
    net = build_model({**model, "in_channels": 1, "num_classes": 2, "image_size": 12})
    hp = run_recipe(
        epochs=2,
        batch_size=32,
        eval_batch_size=64,
        augment="flip",
        seed=0,
        optimizer={"name": "sgd", "lr": 0.05, "weight_decay": 0.0},
    )
    history = fit(net, data, hp, supervised(net, hp, mean, std, 2, data), log=lambda s: None).history
    return [row["train_loss"] for row in history], [p.detach().clone() for p in net.parameters()]


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/maps")
def test_a_subset_above_the_memory_threshold_is_read_from_disk_and_trains_the_same(tmp_path):
    data_dir, index = prepared(tmp_path)
    cpu = torch.device("cpu")
    in_memory = load_subset(data_dir, "train", index, cpu)
    on_disk = load_subset(data_dir, "train", index, cpu, memory_share=0.0)
    assert file_backed(on_disk.images) and not file_backed(in_memory.images)
    assert on_disk.images.shape == (200, 1, 12, 12)
    assert on_disk.images.stride() == in_memory.images.stride()  # grey: (N, H, W, 1)'s, which kernels see
    assert torch.equal(on_disk.images, in_memory.images) and torch.equal(on_disk.labels, in_memory.labels)
    batch = torch.tensor([5, 0, 199, 17])
    assert torch.equal(on_disk.images[batch], in_memory.images[batch])
    loss_a, weights_a = trained(in_memory)
    loss_b, weights_b = trained(on_disk)
    assert loss_a == loss_b and all(torch.equal(a, b) for a, b in zip(weights_a, weights_b, strict=True))
    # The whole split (no index) and the default threshold: a toy split stays in memory.
    whole = load_subset(data_dir, "train", None, cpu, memory_share=0.0)
    assert len(whole) == 300 and file_backed(whole.images)
    assert not file_backed(load_subset(data_dir, "train", None, cpu).images)
    assert 0 < available_memory()


def test_rgb_images_read_from_disk_have_the_in_memory_values_and_strides(tmp_path):
    rng = np.random.default_rng(1)
    write_split(tmp_path, "test", rng.integers(0, 256, (50, 8, 8, 3), dtype=np.uint8), np.zeros(50, int))
    write_info(tmp_path, "rgb", ["only"], {"test": 50}, {})
    in_memory = load_subset(tmp_path, "test", None, torch.device("cpu"))
    on_disk = load_subset(tmp_path, "test", None, torch.device("cpu"), memory_share=0.0)
    assert on_disk.images.stride() == in_memory.images.stride() == (192, 64, 8, 1)
    assert torch.equal(on_disk.images, in_memory.images)
