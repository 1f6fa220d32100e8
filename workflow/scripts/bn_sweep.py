"""Accuracy of one run on a shift set across BN modes, test batch sizes and orders (rule `bn_sweep`)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cvrepro.bn_sweep import bn_sweep
from cvrepro.checkpoint import load_model
from cvrepro.data import TensorSet
from cvrepro.logs import log_to
from cvrepro.training import job_device


def main(
    model_path: Path,
    shift_dir: Path,
    out_csv: Path,
    batch_sizes: list[int],
    modes: list[str],
    orders: list[str],
    prior: float = 16.0,
    seed: int = 0,
    device: str = "auto",
    precision: str = "auto",
    threads: int = 1,
) -> pd.DataFrame:
    dev = job_device(device, precision, threads)
    model, checkpoint = load_model(model_path)
    model = model.to(dev)
    norm = checkpoint["normalization"]
    info = json.loads((shift_dir / "info.json").read_text())
    rows = []
    for condition in ["clean", *info["conditions"]]:
        data = np.load(shift_dir / f"{condition}.npz")
        images = torch.from_numpy(data["images"]).permute(0, 3, 1, 2).contiguous().to(dev)
        tensors = TensorSet(images, torch.from_numpy(data["labels"]).to(dev), info["classes"])
        corruption, severity = ("clean", 0) if condition == "clean" else condition.rsplit("-", 1)
        for row in bn_sweep(
            model, tensors, batch_sizes, norm["mean"], norm["std"], tuple(modes), tuple(orders), prior, seed
        ):
            rows.append({"corruption": corruption, "severity": int(severity), **row})
        print(
            f"{condition}: "
            + ", ".join(f"{r['mode']}@{r['batch_size']}={r['accuracy']:.3f}" for r in rows[-3:])
        )
    frame = pd.DataFrame(rows)
    frame.to_csv(out_csv, index=False)
    return frame


if __name__ == "__main__":
    spec = snakemake.params.spec
    from cvrepro.gpu_slots import gpu_slot  # only jobs claim slots; tests call main() directly

    # The slot is claimed inside the log so the log records which GPU the job used.
    with log_to(snakemake.log[0]), gpu_slot(snakemake.resources.get("gpu", 0)):
        main(
            model_path=Path(snakemake.input.model),
            shift_dir=Path(snakemake.input.shift),
            out_csv=Path(snakemake.output[0]),
            batch_sizes=spec["batch_sizes"],
            modes=spec["modes"],
            orders=spec["orders"],
            prior=spec["prior"],
            seed=spec["seed"],
            device=snakemake.params.device,
            precision=snakemake.params.precision,
            threads=snakemake.threads,
        )
