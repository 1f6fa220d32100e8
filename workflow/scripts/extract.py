"""Extract penultimate-layer features (or raw pixels) of a subset (rule `extract`)."""

from pathlib import Path

import numpy as np
import torch

from cvrepro.checkpoint import load_model
from cvrepro.data import load_subset
from cvrepro.logs import log_to
from cvrepro.ssl import extract_features
from cvrepro.training import memory_format, resolve_device


def main(
    data_dir: Path,
    split: str,
    index: Path,
    out: Path,
    model_path: Path | None = None,
    device: str = "auto",
    threads: int = 1,
) -> np.ndarray:
    """Features of a trained model's penultimate layer; raw pixels in [0, 1] when model_path is None."""
    torch.set_num_threads(threads)
    dev = resolve_device(device)
    data = load_subset(data_dir, split, index, dev)
    if model_path is None:
        features = (data.images.float() / 255).flatten(1).cpu().numpy()
    else:
        model, checkpoint = load_model(model_path)
        model = model.to(dev, memory_format=memory_format(dev))
        norm = checkpoint["normalization"]
        features = extract_features(model, data, norm["mean"], norm["std"], size=norm.get("size"))
    np.savez(
        out,
        features=features.astype(np.float32),
        labels=data.labels.cpu().numpy(),
        classes=np.array(data.classes),
    )
    print(f"{features.shape} features of {split} from {model_path or 'pixels'}")
    return features


if __name__ == "__main__":
    with log_to(snakemake.log[0]):
        main(
            data_dir=Path(snakemake.input.data),
            split=snakemake.params.split,
            index=Path(snakemake.input.index),
            out=Path(snakemake.output[0]),
            model_path=Path(snakemake.input.model) if "model" in snakemake.input.keys() else None,
            device=snakemake.params.device,
            threads=snakemake.threads,
        )
