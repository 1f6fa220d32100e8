"""Reproduces the oneDNN crash that keeps channels_last off on the CPU for images of 64 px and more
(cvrepro.nets.device.memory_format): a few SGD steps of ResNet-18 (CIFAR stem) in channels_last,
one child process per (width, image size, precision), so a segfault or heap abort ends only
that case. On the 2-core AMD EPYC build machine (torch 2.14.1, 2026-11-26) widths 4 and 8
crashed at 64 and/or 96 px in fp32 and bf16 (SIGSEGV, `free(): invalid next size`); width 16 ran.

    .venv/bin/python benchmarks/repro_onednn_crash.py
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from cvrepro.nets.models import build_model  # noqa: E402


def train_steps(width: int, size: int, precision: str, steps: int = 4) -> float:
    """The loss after `steps` SGD steps on random 32-image batches, model and input channels_last."""
    torch.manual_seed(0)
    spec = {
        "arch": "resnet18",
        "stem": "cifar",
        "width": width,
        "head": {"kind": "linear", "dropout": 0.0, "hidden": 512},
        "in_channels": 3,
        "num_classes": 10,
        "image_size": size,
    }
    model = build_model(spec).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(steps):
        x = torch.randn(32, 3, size, size).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (32,))
        bf16 = (
            torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
        )
        with bf16:
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(loss)


def outcome(returncode: int) -> str:
    if returncode == 0:
        return "ran"
    if returncode < 0:
        return f"crashed ({signal.Signals(-returncode).name})"
    return f"failed (exit {returncode})"


def main(widths: tuple[int, ...] = (4, 8, 16), sizes: tuple[int, ...] = (64, 96)) -> list[dict]:
    rows = []
    print(f"torch {torch.__version__}\n| precision | width | image | result |\n|---|---:|---:|---|")
    for precision in ("fp32", "bf16"):
        for width in widths:
            for size in sizes:
                child = subprocess.run(
                    [sys.executable, __file__, "--case", str(width), str(size), precision],
                    capture_output=True,
                    timeout=300,
                )
                rows.append(
                    {
                        "precision": precision,
                        "width": width,
                        "size": size,
                        "result": outcome(child.returncode),
                    }
                )
                print(f"| {precision} | {width} | {size} px | {rows[-1]['result']} |", flush=True)
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:
        print(train_steps(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
    else:
        main()
