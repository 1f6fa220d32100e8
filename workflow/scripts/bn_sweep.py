"""Accuracy of one run on a shift set across BN modes, test batch sizes and orders (rule `bn_sweep`)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cvrepro.data.tensors import TensorSet
from cvrepro.evaluate.bn_modes import bn_sweep
from cvrepro.jobs.job import Job
from cvrepro.nets.checkpoint import load_model
from cvrepro.nets.device import place_model


def main(
    model_path: Path,
    shift_dir: Path,
    out_csv: Path,
    sweep: dict,
    ctx: Job,
) -> pd.DataFrame:
    """`sweep`: the study's validated BN sweep (batch_sizes, modes, orders, prior, seed)."""
    dev = ctx.device
    model, checkpoint = load_model(model_path)
    side = checkpoint["normalization"]["size"] or checkpoint["arch"].get("image_size")
    model = place_model(model, dev, side)
    norm = checkpoint["normalization"]
    info = json.loads((shift_dir / "info.json").read_text())
    rows = []
    for condition in ["clean", *info["conditions"]]:
        data = np.load(shift_dir / f"{condition}.npz")
        images = torch.from_numpy(data["images"]).permute(0, 3, 1, 2).contiguous().to(dev)
        tensors = TensorSet(images, torch.from_numpy(data["labels"]).to(dev), info["classes"])
        corruption, severity = ("clean", 0) if condition == "clean" else condition.rsplit("-", 1)
        for row in bn_sweep(model, tensors, norm["mean"], norm["std"], sweep):
            rows.append({"corruption": corruption, "severity": int(severity), "images": len(tensors), **row})
        ctx.log(
            f"{condition}: "
            + ", ".join(f"{r['mode']}@{r['batch_size']}={r['accuracy']:.3f}" for r in rows[-3:])
        )
    frame = pd.DataFrame(rows)
    frame.to_csv(out_csv, index=False)
    return frame


if __name__ == "__main__":
    from cvrepro.jobs.job import job

    with job(snakemake) as ctx:
        main(
            model_path=Path(snakemake.input.model),
            shift_dir=Path(snakemake.input.shift),
            out_csv=Path(snakemake.output[0]),
            sweep=snakemake.params.spec,
            ctx=ctx,
        )
