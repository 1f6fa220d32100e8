"""Training throughput: cvrepro's engine vs a seed-report-style loop, side by side in one run.

The seed-style loop is what the reports' notebooks do: a torchvision Dataset that turns each
uint8 image into a PIL image, per-image transforms (RandomCrop + RandomHorizontalFlip +
ToTensor + Normalize), a DataLoader with workers, then the model. Ours keeps the uint8 set on
the training device and augments whole batches there (cvrepro.training.train_one_epoch).
Same model, data, batch size and number of images for both; numbers are images/s.

    .venv/bin/python benchmarks/train_throughput.py --images 2048 --size 32 --width 16
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from cvrepro.data import TensorSet, channel_stats  # noqa: E402
from cvrepro.models import build_model  # noqa: E402
from cvrepro.training import EpochOptions, make_optimizer, make_scheduler, resolve_device, train_one_epoch  # noqa: E402

OPTIMIZER = {
    "name": "sgd",
    "lr": 0.05,
    "momentum": 0.9,
    "nesterov": False,
    "weight_decay": 5e-4,
    "betas": [0.9, 0.999],
}


class SeedStyleDataset(Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray, transform) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        image = self.images[i]
        pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        return self.transform(pil), int(self.labels[i])


def seed_style_epoch(model, loader, optimizer, device) -> int:
    model.train()
    seen = 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(
    images: int, size: int, channels: int, width: int, batch_size: int, workers: int, device: str, epochs: int
) -> list[dict]:
    dev = resolve_device(device)
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (images, size, size, channels), dtype=np.uint8)
    labels = rng.integers(0, 10, images)
    spec = {"arch": "resnet18", "stem": "cifar", "width": width, "in_channels": channels, "num_classes": 10}

    # Seed style: per-image PIL transforms in DataLoader workers.
    model = build_model(spec).to(dev)
    tensor = torch.from_numpy(data).permute(0, 3, 1, 2).contiguous()
    mean, std = channel_stats(tensor)
    transform = transforms.Compose(
        [
            transforms.RandomCrop(size, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )
    loader = DataLoader(
        SeedStyleDataset(data, labels, transform),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=dev.type == "cuda",
        persistent_workers=workers > 0,
    )
    optimizer = make_optimizer(model.parameters(), OPTIMIZER)
    seed_style_epoch(model, loader, optimizer, dev)  # warm-up (workers start, cudnn autotune)
    seed_seconds = timed(lambda: [seed_style_epoch(model, loader, optimizer, dev) for _ in range(epochs)])

    # Ours: uint8 on the device, batch augmentation, channels_last (+ bf16 autocast on CUDA).
    model = build_model(spec).to(dev, memory_format=torch.channels_last)
    train = TensorSet(tensor.to(dev), torch.from_numpy(labels).to(dev), [str(i) for i in range(10)])
    optimizer = make_optimizer(model.parameters(), OPTIMIZER)
    scheduler = make_scheduler(optimizer, {"name": "constant"}, epochs + 1, 1)
    generator = torch.Generator(device=dev).manual_seed(0)

    options = EpochOptions(batch_size, "crop_flip", mean, std)

    def ours_epoch():
        train_one_epoch(model, train, optimizer, scheduler, options, generator)

    ours_epoch()  # warm-up
    ours_seconds = timed(lambda: [ours_epoch() for _ in range(epochs)])

    n = images * epochs
    rows = [
        {
            "loop": f"seed style (PIL transforms, DataLoader, {workers} workers)",
            "images_per_s": n / seed_seconds,
        },
        {"loop": "cvrepro (uint8 on device, batch augmentation)", "images_per_s": n / ours_seconds},
    ]
    hardware = (
        torch.cuda.get_device_name(dev)
        if dev.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    print(
        f"ResNet-18 (CIFAR stem, width {width}), {images} images {size}x{size}x{channels}, batch {batch_size}, "
        f"{epochs} timed epochs after 1 warm-up, on {dev.type}: {hardware}"
    )
    print("| loop | images/s |\n|---|---:|")
    for row in rows:
        print(f"| {row['loop']} | {row['images_per_s']:.0f} |")
    print(f"speed-up: {rows[1]['images_per_s'] / rows[0]['images_per_s']:.2f}x")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    args = parser.parse_args()
    main(
        args.images,
        args.size,
        args.channels,
        args.width,
        args.batch_size,
        args.workers,
        args.device,
        args.epochs,
    )
