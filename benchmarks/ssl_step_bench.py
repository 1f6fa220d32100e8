"""Images/s of one pretraining step of every method (cvrepro.train.methods) beside SimCLR's, at the
same batch size and backbone, in one run; and for the methods with a momentum teacher, the
teacher's share of the step (its forward pass on both views plus its EMA update).

A step is what the engine does per batch: the method's step (augmentation, forward, loss),
backward, the optimizer step and the method's after_step. Random uint8 images (a step's time does
not depend on what the pixels show). Prints a Markdown table with the hardware and load average.

    .venv/bin/python benchmarks/ssl_step_bench.py [--batch 128] [--width 16] [--size 28] [--steps 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from cvrepro.jobs.recipes import pretraining_recipe  # noqa: E402
from cvrepro.nets.device import autocast, model_input, place_model  # noqa: E402
from cvrepro.nets.models import build_model  # noqa: E402
from cvrepro.train.methods import METHODS, pretrain_net, pretraining_method  # noqa: E402
from cvrepro.train.teacher import EmaTeacher  # noqa: E402

# Heads shrunk alike (256 hidden units) so that the backbone, not an 8192-unit head, sets the cost,
# as in studies/ssl_methods.yaml; a method not listed keeps its paper's heads.
SMALL = {
    "simclr": {"projection": {"hidden": 256, "dim": 64, "batchnorm": True}},
    "byol": {"byol": {"projection": {"hidden": 256, "dim": 64}, "predictor_hidden": 256}},
    "mocov3": {"mocov3": {"projection": {"hidden": 256, "dim": 64}, "predictor_hidden": 256}},
    "simsiam": {"simsiam": {"projection": {"hidden": 256, "dim": 256}, "predictor_hidden": 64}},
    "barlow_twins": {"barlow_twins": {"projection": {"hidden": 256, "dim": 256}}},
    "vicreg": {"vicreg": {"projection": {"hidden": 256, "dim": 256}}},
}


def teachers(method) -> list[EmaTeacher]:
    return (
        [m for m in method.state.modules() if isinstance(m, EmaTeacher)] if method.state is not None else []
    )


def bench(name: str, args, device: torch.device) -> dict:
    recipe = pretraining_recipe(
        method=name,
        model={"arch": "resnet18", "stem": "cifar", "width": args.width},
        batch_size=args.batch,
        optimizer={"name": "adam", "lr": 1e-3, "weight_decay": 0.0},
        augment={"name": "simclr", "grayscale_p": 0.0, "scale": [0.3, 1.0]},
        **SMALL.get(name, {}),
    )
    torch.manual_seed(0)
    arch = {**recipe["model"], "in_channels": 1, "num_classes": 10, "image_size": args.size}
    net = place_model(pretrain_net(build_model(arch), recipe), device, args.size)
    method = pretraining_method(net, recipe, [0.3], [0.3], None, steps=args.steps + 2)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator(device=device).manual_seed(0)
    images = torch.randint(0, 256, (args.batch, 1, args.size, args.size), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 10, (args.batch,), device=device)
    total = args.steps + 2

    def one_step(k: int) -> None:
        loss, _ = method.step(images, labels, g)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        method.after_step(k, total)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    net.train()
    for k in range(2):  # warm-up
        one_step(k)
    sync()

    def timed_step() -> float:
        """Seconds per step over `steps` steps (the step index only moves the momentum, not the cost)."""
        start = time.perf_counter()
        for k in range(2, total):
            one_step(k)
        sync()
        return (time.perf_counter() - start) / args.steps

    return name, net, method, timed_step


def teacher_seconds(net, method, args, device: torch.device) -> float | None:
    """Seconds of the teacher's part of one step, or None for a method without an EMA teacher."""
    found = teachers(method)
    if found and all(isinstance(t.net, torch.nn.ModuleList) and len(t.net) == 2 for t in found):
        # The teacher's part of a step: its forward on both views (as the methods run it) and its update.
        x = model_input(torch.rand(2 * args.batch, 1, args.size, args.size, device=device), net)
        student = [m for m in (net.encoder, getattr(net.projector, "projector", net.projector))]
        start = time.perf_counter()
        for _ in range(args.steps):
            for teacher in found:
                with torch.no_grad(), autocast(device):
                    encoder, projector = teacher.net[0], teacher.net[1]
                    projector(encoder.features(x))
                teacher.update(torch.nn.ModuleList(student), 0.99)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - start) / args.steps
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--methods", nargs="*", default=sorted(METHODS))
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else "none"
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
        f"{torch.get_num_threads()}, GPU {gpu}, torch {torch.__version__}, load average "
        f"{' '.join(open('/proc/loadavg').read().split()[:3])}; resnet18 width {args.width} (cifar stem), "
        f"{args.size} px grey, batch {args.batch}, best of {args.rounds} interleaved rounds of {args.steps} timed steps after 2 warm-up"
    )
    built = []
    for name in args.methods:
        try:
            built.append(bench(name, args, device))
        except ValueError as error:  # a method whose settings do not fit this size (dino's crops)
            print(f"{name}: not measured: {error}")
    # Rounds over all methods, the fastest round of each kept: on a shared machine the load moves
    # during a run, and interleaving plus the minimum compares the methods under like load.
    best = {name: math.inf for name, *_ in built}
    share = {name: math.inf for name, *_ in built}
    for _ in range(args.rounds):
        for name, net, method, timed_step in built:
            best[name] = min(best[name], timed_step())
            teacher = teacher_seconds(net, method, args, device)
            share[name] = min(share[name], teacher) if teacher is not None else None
    rows = [
        {
            "method": name,
            "views": METHODS[name].views,
            "step_ms": 1000 * best[name],
            "img_s": args.batch / best[name],
            **({"teacher_share": share[name] / best[name]} if share[name] else {}),
        }
        for name, *_ in built
    ]
    simclr = next((r["img_s"] for r in rows if r["method"] == "simclr"), None)
    print("\n| method | views | ms / step | images / s | vs SimCLR | teacher's share |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['img_s'] / simclr:.2f}" if simclr else "-"
        share = f"{100 * r['teacher_share']:.0f}%" if "teacher_share" in r else "-"
        print(f"| {r['method']} | {r['views']} | {r['step_ms']:.0f} | {r['img_s']:.0f} | {ratio} | {share} |")


if __name__ == "__main__":
    main()
