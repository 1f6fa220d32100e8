"""The model zoo's cost (issue 37, Performance): for each of six torchvision families, feature
extraction and one training epoch through cvrepro against a plain PyTorch loop on the same
inputs, in the workflow's precision (`--precision auto`: bf16 autocast where the CPU or GPU has
it), images/s and the ratio ours / plain per family.

Extraction, ours: cvrepro.nets.inference.extract_features on a TorchvisionNet (torchvision's model,
classifier removed), the uint8 images prepared on the device by the weights' transforms()
(cvrepro.nets.preprocess.weights_preprocess), as extract.py does for `imagenet_<arch>` sources.
Plain: torchvision's model with an Identity classifier, eval mode, batches of the same uint8 images
through torchvision's own weights.transforms() on the device, the forward in the same autocast.

Training epoch, ours: cvrepro.train.engine.train_one_epoch (supervised, crop_flip on the device
batch, Adam), the network as build_model makes it for a run (the study's linear head). Plain: the
same architecture, normalised float images resident on the device, a random order, forward /
backward / step in the same autocast. Weights are random (the cost does not depend on them); one
warm-up pass each before timing.

    .venv/bin/python benchmarks/model_zoo_bench.py --images 64 --size 64 --batch-size 32
    python benchmarks/model_zoo_bench.py --device cuda --images 2048 --size 96 --json zoo.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from cvrepro.data.tensors import TensorSet, channel_stats, eval_batch  # noqa: E402
from cvrepro.jobs.recipes import run_recipe  # noqa: E402
from cvrepro.nets.catalog import models as catalog_models  # noqa: E402
from cvrepro.nets.catalog import weights_entry  # noqa: E402
from cvrepro.nets.device import (  # noqa: E402
    autocast,
    model_input,
    place_model,
    precision_for,
    prepare_device,
    resolve_device,
    set_precision,
)
from cvrepro.nets.inference import extract_features  # noqa: E402
from cvrepro.nets.models import build_model  # noqa: E402
from cvrepro.nets.preprocess import weights_preprocess  # noqa: E402
from cvrepro.nets.torchvision_nets import TorchvisionNet, strip  # noqa: E402
from cvrepro.train.batches import batch_starts, steps_per_epoch  # noqa: E402
from cvrepro.train.engine import EpochOptions, train_one_epoch  # noqa: E402
from cvrepro.train.optim import Updates, make_optimizer, make_scheduler  # noqa: E402
from cvrepro.train.supervised import supervised  # noqa: E402

ARCHS = ("resnet50", "convnext_tiny", "efficientnet_b0", "mobilenet_v3_large", "vit_b_16", "swin_t")
# resnet50 is cvrepro's own ResNet in a run; its features here come from torchvision's, as any arch's
OPTIMIZER = {"name": "adam", "lr": 1e-4, "weight_decay": 0.0, "betas": [0.9, 0.999]}
CLASSES = 10


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def images_on(device: torch.device, n: int, size: int) -> TensorSet:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.arange(n) % CLASSES
    return TensorSet(images.to(device), labels.to(device), [str(c) for c in range(CLASSES)])


def feature_body(arch: str) -> nn.Module:
    from torchvision import models

    torch.manual_seed(0)
    return strip(models.get_model(arch), arch)


def extract_ours(arch: str, data: TensorSet, device: torch.device, chunk: int) -> Callable[[], object]:
    transforms = weights_entry(arch, "DEFAULT")["transforms"]
    net = TorchvisionNet(feature_body(arch), catalog_models()[arch]["features"], nn.Identity(), False)
    net = place_model(net, device, transforms["crop"])
    return lambda: extract_features(
        net, data, [], [], None, "penultimate", chunk, lambda x: weights_preprocess(x, transforms)
    )


def extract_plain(arch: str, data: TensorSet, device: torch.device, chunk: int) -> Callable[[], object]:
    from torchvision import models

    preset = models.get_model_weights(arch).DEFAULT.transforms()
    model = feature_body(arch).to(device).eval()

    @torch.no_grad()
    def run() -> torch.Tensor:
        out = []
        for start in range(0, len(data), chunk):
            with autocast(device):
                out.append(model(preset(data.images[start : start + chunk])).float())
        return torch.cat(out).cpu()

    return run


def run_spec(arch: str, size: int) -> dict:
    model = run_recipe(model={"arch": arch})["model"]
    return {**model, "in_channels": 3, "num_classes": CLASSES, "image_size": size}


def train_ours(arch: str, data: TensorSet, device: torch.device, batch: int) -> Callable[[], object]:
    torch.manual_seed(0)
    size = data.images.shape[-1]
    model = place_model(build_model(run_spec(arch, size)), device, size)
    mean, std = channel_stats(data.images)
    recipe = run_recipe(
        batch_size=batch, augment="crop_flip", optimizer=OPTIMIZER, schedule={"name": "constant"}
    )
    optimizer = make_optimizer(model.parameters(), recipe["optimizer"])
    steps = steps_per_epoch(len(data), batch)
    updates = Updates(optimizer, make_scheduler(optimizer, recipe["schedule"], 2, steps), None, 2 * steps)
    method = supervised(model, recipe, mean, std, CLASSES, None)
    generator = torch.Generator(device=device).manual_seed(0)
    options = EpochOptions(batch, True, "eval")
    return lambda: train_one_epoch(model, data, method, updates, generator, options)


def train_plain(arch: str, data: TensorSet, device: torch.device, batch: int) -> Callable[[], object]:
    torch.manual_seed(0)
    size = data.images.shape[-1]
    model = place_model(build_model(run_spec(arch, size)), device, size)
    mean, std = channel_stats(data.images)
    x_all, y_all = model_input(eval_batch(data.images, mean, std), model), data.labels
    optimizer = torch.optim.Adam(model.parameters(), lr=OPTIMIZER["lr"])
    starts = batch_starts(len(data), batch)

    def epoch() -> None:
        model.train()
        order = torch.randperm(len(data), device=device)
        for start in starts:
            index = order[start : start + batch]
            with autocast(device):
                loss = nn.functional.cross_entropy(model(x_all[index]).float(), y_all[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    return epoch


def rate(make: Callable[..., Callable[[], object]], arch: str, data: TensorSet, device, batch: int) -> float:
    """Images/s of one timed pass of make(...)'s function after a warm-up pass."""
    run = make(arch, data, device, batch)
    run()
    return len(data) / timed(run, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--size", type=int, default=64, help="the images' side (training input)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--archs", default=",".join(ARCHS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    device = resolve_device(args.device)
    set_precision(args.precision)
    prepare_device(device)
    data = images_on(device, args.images, args.size)
    rows = []
    print(f"device {device}, precision {precision_for(device)}, {args.images} images of {args.size} px")
    print("| arch | extract ours | extract plain | ratio | train ours | train plain | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for arch in args.archs.split(","):
        runs = {"extract_ours": extract_ours, "extract_plain": extract_plain}
        runs |= {"train_ours": train_ours, "train_plain": train_plain}
        row = {"arch": arch} | {
            key: rate(make, arch, data, device, args.batch_size) for key, make in runs.items()
        }
        rows.append(row)
        print(
            f"| {arch} | {row['extract_ours']:.1f} | {row['extract_plain']:.1f} | "
            f"{row['extract_ours'] / row['extract_plain']:.2f} | {row['train_ours']:.1f} | "
            f"{row['train_plain']:.1f} | {row['train_ours'] / row['train_plain']:.2f} |",
            flush=True,
        )
    if args.json:
        meta = {"device": str(device), "precision": str(precision_for(device)), **vars(args), "json": None}
        args.json.write_text(json.dumps({"settings": meta, "rows": rows}, indent=1, default=str))


if __name__ == "__main__":
    main()
