"""Every classification model in torchvision.models.list_models(module=torchvision.models) as the
workflow builds it (cvrepro.nets.models.build_model): the study's head in place of its
classifier, features of the catalog's dimension, one SGD step on two images at random init, at
the smallest input side the model takes (at least 32 px; a multiple of its patch or partition).
Not a CI test (the largest models take minutes on a CPU); CI runs one model per family
(tests/test_torchvision_models.py).

    .venv/bin/python benchmarks/all_models.py [--out benchmarks/results/all_models.csv] [arch ...]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from cvrepro.nets.catalog import is_torchvision, models  # noqa: E402
from cvrepro.nets.models import build_model  # noqa: E402


def smallest_side(arch: str) -> int:
    entry = models()[arch]
    side = 32 if entry["size_arg"] else max(32, entry["min_size"])
    multiple = entry["size_multiple"]
    return -(-side // multiple) * multiple


def one_model(arch: str, device: torch.device) -> dict:
    side = smallest_side(arch)
    spec = {
        "arch": arch,
        "width": None,
        "stem": "cifar",
        "embedding_dim": None,
        "head": {"kind": "mlp", "dropout": 0.1, "hidden": 64, "outputs": None},
        "in_channels": 3,
        "num_classes": 10,
        "image_size": side,
        "grey": "sum",
    }
    start = time.perf_counter()
    torch.manual_seed(0)
    model = build_model(spec).to(device).train()
    built = time.perf_counter() - start
    x, y = torch.randn(2, 3, side, side, device=device), torch.tensor([1, 7], device=device)
    features = model.features(x)
    expected = models()[arch]["features"]
    if features.shape != (2, expected):
        raise AssertionError(f"{arch}: features {tuple(features.shape)}, catalog says (2, {expected})")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = torch.nn.functional.cross_entropy(model.fc(features), y)
    loss.backward()
    optimizer.step()
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise AssertionError(f"{arch}: non-finite weights after one step")
    return {
        "arch": arch,
        "family": models()[arch]["family"],
        "side": side,
        "features": expected,
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        "build_s": round(built, 2),
        "step_s": round(time.perf_counter() - start - built, 2),
        "loss": round(float(loss), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archs", nargs="*", help="default: every torchvision classification model")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/all_models.csv"))
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    archs = args.archs or [a for a in models() if is_torchvision(a)]
    warnings.simplefilter("ignore")
    rows, failed = [], []
    for arch in archs:
        try:
            rows.append(one_model(arch, device))
            print(",".join(str(v) for v in rows[-1].values()), flush=True)
        except Exception as error:  # noqa: BLE001 - reported, then the next model
            failed.append(arch)
            print(f"{arch}: FAILED {type(error).__name__}: {error}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(
        f"{len(rows)} of {len(archs)} models built, gave features and took a step on {device}; failed: {failed or 'none'}"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
