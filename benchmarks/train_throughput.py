"""Training throughput: cvrepro's engine vs a seed-report-style loop, side by side in one run.

The seed-style loop is what the reports' notebooks do: a torchvision Dataset that turns each
uint8 image into a PIL image, per-image transforms (RandomCrop + RandomHorizontalFlip +
ToTensor + Normalize), a DataLoader with workers, then the model. Ours keeps the uint8 set on
the training device and augments whole batches there (cvrepro.train.engine.train_one_epoch), with
channels_last, bf16 autocast where the hardware has it (cvrepro.nets.device) and optionally
torch.compile. Same model, data, batch size,
augmentation and number of images for both; numbers are images/s after one warm-up epoch.

    .venv/bin/python benchmarks/train_throughput.py --images 2048 --size 32 --width 16

`--against plain` (the GPU kit's stage) compares instead with the fastest loop one can write: a
plain loop over normalised float tensors already resident on the device (no augmentation, no
statistics), in each precision asked for (`--precisions auto,fp32,fp16,bf16`), and reports for
each row the model FLOP utilisation (MFU: model FLOPs of forward + backward, counted by torch's
FlopCounterMode, per second over the GPU's dense peak for the precision that ran) and the peak
GPU memory. The engine's distance to the plain loop is what augmentation, gradient statistics and
the per-epoch bookkeeping cost.

    python benchmarks/train_throughput.py --against plain --device cuda --images 50000 --width 64 \
        --batch-size 512 --precisions auto,fp32 --json results/throughput.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from cvrepro.data.tensors import TensorSet, channel_stats  # noqa: E402
from cvrepro.jobs.recipes import run_recipe  # noqa: E402
from cvrepro.nets.device import ENV as COMPILE_ENV  # noqa: E402
from cvrepro.nets.device import (  # noqa: E402
    autocast,
    grad_scaler,
    model_input,
    place_model,
    precision_for,
    prepare_device,
    resolve_device,
    set_precision,
)
from cvrepro.nets.models import build_model  # noqa: E402
from cvrepro.report.cost.gpus import peak_tflops  # noqa: E402
from cvrepro.train.batches import batch_starts, steps_per_epoch  # noqa: E402
from cvrepro.train.engine import EpochOptions, train_one_epoch  # noqa: E402
from cvrepro.train.optim import Updates, make_optimizer, make_scheduler  # noqa: E402
from cvrepro.train.supervised import supervised  # noqa: E402

OPTIMIZER = {
    "name": "sgd",
    "lr": 0.05,
    "momentum": 0.9,
    "nesterov": False,
    "weight_decay": 5e-4,
    "betas": [0.9, 0.999],
}


class SeedStyleDataset(Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = self.images[i]
        pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        return self.transform(pil), int(self.labels[i])


def seed_style_epoch(model: torch.nn.Module, loader: DataLoader, optimizer, device: torch.device) -> int:
    model.train()
    seen = 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(y)  # the reports' loops also read loss.item() here; we spare them that sync
    return seen


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def tensor_set(images: np.ndarray, labels: np.ndarray, device: torch.device) -> TensorSet:
    """N x H x W x C uint8 images and their labels as the engine holds them: N x C x H x W on `device`."""
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    return TensorSet(tensor.to(device), torch.from_numpy(labels).to(device), [str(i) for i in range(10)])


def model_spec(images: np.ndarray, width: int) -> dict:
    return {
        **run_recipe(model={"arch": "resnet18", "stem": "cifar", "width": width})["model"],
        "in_channels": images.shape[-1],
        "num_classes": 10,
        "image_size": images.shape[1],
    }


@contextlib.contextmanager
def compiling(setting: str) -> object:
    """CVREPRO_COMPILE set to `setting` for the block (the engine reads it when a method is built)."""
    old = os.environ.get(COMPILE_ENV)
    os.environ[COMPILE_ENV] = setting
    try:
        yield
    finally:
        os.environ.pop(COMPILE_ENV) if old is None else os.environ.__setitem__(COMPILE_ENV, old)


def seed_style_throughput(
    images: np.ndarray,
    labels: np.ndarray,
    width: int,
    batch_size: int,
    workers: int,
    device: torch.device,
    epochs: int,
) -> float:
    """Images/s of the seed-style loop over `epochs` timed epochs after one warm-up epoch."""
    torch.manual_seed(0)
    model = build_model(model_spec(images, width)).to(device)
    mean, std = channel_stats(torch.from_numpy(images).permute(0, 3, 1, 2))
    transform = transforms.Compose(
        [
            transforms.RandomCrop(images.shape[1], padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )
    loader = DataLoader(
        SeedStyleDataset(images, labels, transform),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )
    optimizer = make_optimizer(model.parameters(), OPTIMIZER)
    seed_style_epoch(model, loader, optimizer, device)  # warm-up: workers start, cuDNN autotunes
    sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        seed_style_epoch(model, loader, optimizer, device)
    sync(device)
    seconds = time.perf_counter() - start
    del loader  # stops the persistent workers now rather than at interpreter exit
    return len(labels) * epochs / seconds


def engine_throughput(
    images: np.ndarray,
    labels: np.ndarray,
    width: int,
    batch_size: int,
    device: torch.device,
    epochs: int,
    compile_setting: str = "0",
    precision: str = "auto",
) -> tuple[float, float]:
    """(images/s over `epochs` timed epochs, seconds of the warm-up epoch) of cvrepro's engine in
    `precision` (see cvrepro.nets.device); with a `compile_setting` (a CVREPRO_COMPILE value) the
    warm-up epoch includes torch.compile's compile time."""
    set_precision(precision)
    prepare_device(device)
    torch.manual_seed(0)
    model = place_model(build_model(model_spec(images, width)), device, images.shape[1])
    train = tensor_set(images, labels, device)
    mean, std = channel_stats(train.images)
    recipe = run_recipe(
        batch_size=batch_size, augment="crop_flip", optimizer=OPTIMIZER, schedule={"name": "constant"}
    )
    scaler = grad_scaler(device)
    optimizer = make_optimizer(
        model.parameters(), recipe["optimizer"], fused=scaler is not None and device.type == "cuda"
    )
    scheduler = make_scheduler(
        optimizer, recipe["schedule"], epochs + 1, steps_per_epoch(len(train), batch_size)
    )
    updates = Updates(optimizer, scheduler, scaler, (epochs + 1) * steps_per_epoch(len(train), batch_size))
    generator = torch.Generator(device=device).manual_seed(0)
    with compiling(compile_setting):
        method = supervised(model, recipe, mean, std, 10, None)

    def epoch() -> None:
        train_one_epoch(model, train, method, updates, generator, EpochOptions(batch_size, True, "eval"))

    warm_up = timed(epoch, device)
    seconds = timed(lambda: [epoch() for _ in range(epochs)], device)
    return len(labels) * epochs / seconds, warm_up


# --- against a plain loop on resident tensors: throughput, MFU, peak memory -------------------------


def peak_flops(device: torch.device) -> float | None:
    """The peak FLOP/s of `device` in the precision the job runs in; None on CPUs and unknown GPUs."""
    if device.type != "cuda":
        return None
    kind = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(precision_for(device).dtype, "fp32")
    tflops = peak_tflops(torch.cuda.get_device_name(device), kind)
    return tflops * 1e12 if tflops else None


def train_flops_per_image(model: torch.nn.Module, x: torch.Tensor) -> float:
    """Model FLOPs of one forward and backward pass per image (torch's FlopCounterMode; a multiply
    and an add count 2), measured on the batch `x`."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        model(x).float().sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(x)


def plain_resident_throughput(
    images: np.ndarray, labels: np.ndarray, width: int, batch_size: int, device: torch.device, epochs: int
) -> float:
    """Images/s of the plainest loop: normalised float images resident on `device`, a random order,
    slices of it, forward / backward / step in the job's precision (fp16 with its GradScaler)."""
    prepare_device(device)
    torch.manual_seed(0)
    model = place_model(build_model(model_spec(images, width)), device, images.shape[1])
    train = tensor_set(images, labels, device)
    mean, std = channel_stats(train.images)
    from cvrepro.data.tensors import eval_batch

    x_all, y_all = model_input(eval_batch(train.images, mean, std), model), train.labels
    scaler = grad_scaler(device)
    optimizer = make_optimizer(
        model.parameters(), OPTIMIZER, fused=scaler is not None and device.type == "cuda"
    )
    starts = batch_starts(len(labels), batch_size)

    def epoch() -> None:
        model.train()
        order = torch.randperm(len(labels), device=device)
        for start in starts:
            batch = order[start : start + batch_size]
            with autocast(device):
                loss = torch.nn.functional.cross_entropy(model(x_all[batch]).float(), y_all[batch])
            optimizer.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()

    timed(epoch, device)  # warm-up: cuDNN autotunes every shape
    return len(labels) * epochs / timed(lambda: [epoch() for _ in range(epochs)], device)


def resident_rows(
    images: int,
    size: int,
    channels: int,
    width: int,
    batch_size: int,
    device: str,
    epochs: int,
    precisions: list[str],
) -> list[dict]:
    """For each precision: the plain resident loop and cvrepro's engine, with images/s, MFU and peak
    GPU memory; prints a Markdown table."""
    dev = resolve_device(device)
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (images, size, size, channels), dtype=np.uint8)
    labels = rng.integers(0, 10, images).astype(np.int64)
    probe = place_model(build_model(model_spec(data, width)), dev, size)
    flops = train_flops_per_image(probe, model_input(torch.randn(8, channels, size, size, device=dev), probe))
    rows = []
    for precision in precisions:
        set_precision(precision)
        ran = precision_for(dev).name
        loops = (
            ("plain loop on resident tensors (no augmentation)", plain_resident_throughput, {}),
            (
                "cvrepro engine (uint8 on device, batch augmentation)",
                engine_throughput,
                {"precision": precision},
            ),
        )
        for loop, measure, options in loops:
            if dev.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(dev)
            rate = measure(data, labels, width, batch_size, dev, epochs, **options)
            rate = rate[0] if isinstance(rate, tuple) else rate
            peak = peak_flops(dev)
            rows.append(
                {
                    "loop": loop,
                    "precision": f"{precision} -> {ran}",
                    "images_per_s": rate,
                    "mfu": rate * flops / peak if peak else None,
                    "peak_memory_gib": torch.cuda.max_memory_allocated(dev) / 2**30
                    if dev.type == "cuda"
                    else None,
                }
            )
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(
        f"ResNet-18 (CIFAR stem, width {width}), {images} images {size}x{size}x{channels}, batch {batch_size}, "
        f"{epochs} timed epochs after 1 warm-up, on {name}; {flops / 1e9:.3f} GFLOP per image (forward + backward)"
    )
    print("| loop | precision | images/s | MFU | peak memory |\n|---|---|---:|---:|---:|")
    for row in rows:
        mfu = f"{row['mfu']:.1%}" if row["mfu"] is not None else "n/a"
        memory = f"{row['peak_memory_gib']:.2f} GiB" if row["peak_memory_gib"] is not None else "n/a"
        print(f"| {row['loop']} | {row['precision']} | {row['images_per_s']:.0f} | {mfu} | {memory} |")
    return rows


def main(
    images: int, size: int, channels: int, width: int, batch_size: int, workers: int, device: str, epochs: int
) -> list[dict]:
    """Both loops on `images` synthetic images of size x size x channels; prints a small table."""
    dev = resolve_device(device)
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (images, size, size, channels), dtype=np.uint8)
    labels = rng.integers(0, 10, images).astype(np.int64)
    seed = seed_style_throughput(data, labels, width, batch_size, workers, dev, epochs)
    ours, _ = engine_throughput(data, labels, width, batch_size, dev, epochs)
    rows = [
        {"loop": f"seed style (PIL transforms, DataLoader, {workers} workers)", "images_per_s": seed},
        {"loop": "cvrepro (uint8 on device, batch augmentation)", "images_per_s": ours},
    ]
    print(
        f"ResNet-18 (CIFAR stem, width {width}), {images} images {size}x{size}x{channels}, batch {batch_size}, "
        f"{epochs} timed epochs after 1 warm-up, on {dev.type}"
    )
    print("| loop | images/s |\n|---|---:|")
    for row in rows:
        print(f"| {row['loop']} | {row['images_per_s']:.0f} |")
    print(f"speed-up: {ours / seed:.2f}x")
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
    parser.add_argument(
        "--against",
        default="seed",
        choices=["seed", "plain"],
        help="seed: the seed reports' DataLoader loop (default); plain: a plain loop on resident tensors, with MFU and peak memory",
    )
    parser.add_argument(
        "--precisions", default="auto", help="with --against plain: comma-separated precisions"
    )
    parser.add_argument("--json", default=None, help="with --against plain: also write the rows here")
    args = parser.parse_args()
    if args.against == "plain":
        found = resident_rows(
            args.images,
            args.size,
            args.channels,
            args.width,
            args.batch_size,
            args.device,
            args.epochs,
            [p.strip() for p in args.precisions.split(",") if p.strip()],
        )
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(found, indent=1))
        sys.exit(0)
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
