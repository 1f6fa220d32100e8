"""Pretrain an encoder with SimCLR or a triplet loss (rule `pretrain`)."""

import json
from pathlib import Path

import pandas as pd
import torch

from cvrepro.checkpoint import save_checkpoint
from cvrepro.data import channel_stats, load_subset
from cvrepro.logs import log_to
from cvrepro.models import build_model, count_parameters
from cvrepro.provenance import config_hash, provenance
from cvrepro.resume import clear_state
from cvrepro.ssl import Pretrainer, ProjectionHead, pretrain
from cvrepro.training import job_device, memory_format


def main(
    *,
    data_dir: Path,
    data_index: Path,
    data_split: str,
    out_model: Path,
    out_history: Path,
    out_metrics: Path,
    method: str,
    model: dict,
    epochs: int,
    batch_size: int,
    optimizer: dict,
    schedule: dict,
    augment: str | dict,
    temperature: float,
    projection: dict,
    triplet: dict,
    seed: int,
    probe_dir: Path | None = None,
    probe_index: Path | None = None,
    probe_split: str | None = None,
    resume: Path | None = None,
    device: str = "auto",
    precision: str = "auto",
    threads: int = 1,
) -> dict:
    hp = {
        "method": method,
        "model": model,
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": optimizer,
        "schedule": schedule,
        "augment": augment,
        "temperature": temperature,
        "projection": projection,
        "triplet": triplet,
        "seed": seed,
        "data_split": data_split,
        "probe_split": probe_split,
    }
    torch.manual_seed(seed)
    dev = job_device(device, precision, threads)
    data = load_subset(data_dir, data_split, data_index, dev)
    probe = load_subset(probe_dir, probe_split, probe_index, dev) if probe_dir is not None else None
    mean, std = channel_stats(data.images)
    arch = {
        **model,
        "in_channels": data.images.shape[1],
        "num_classes": len(data.classes),
        "image_size": data.images.shape[-1],
    }
    encoder = build_model(arch)
    projector = (
        ProjectionHead(encoder.num_features, projection["hidden"], projection["dim"])
        if method == "simclr"
        else None
    )
    net = Pretrainer(encoder, projector).to(dev, memory_format=memory_format(dev, data.images.shape[-1]))
    print(f"{method} pretraining of {arch} on {len(data)} images ({dev})")
    history = pretrain(net, data, hp, mean, std, probe, resume_path=resume, run_hash=config_hash(hp))
    info = provenance(hp, dev, seed)
    metrics = {
        "method": method,
        "train_loss": history[-1]["train_loss"],
        "contrastive_acc": history[-1].get("contrastive_acc"),
        "probe_acc": history[-1].get("probe_acc"),
        "train_time_s": sum(row["epoch_seconds"] for row in history),
        "epochs": len(history),
        "train_images": len(data),
        "trained_params": count_parameters(net, trainable_only=True),
        "hparams": hp,
        "provenance": info,
    }
    # The encoder alone, loadable by `init: <name>` and by feature extraction (its fc is unused).
    save_checkpoint(
        out_model,
        net.encoder,
        arch=arch,
        hparams=hp,
        normalization={"mean": mean, "std": std, "size": None},
        classes=data.classes,
        seed=seed,
        provenance=info,
    )
    pd.DataFrame(history).to_csv(out_history, index=False)
    Path(out_metrics).write_text(json.dumps(metrics, indent=2) + "\n")
    clear_state(resume)
    return metrics


if __name__ == "__main__":
    inputs = snakemake.input
    from cvrepro.gpu_slots import gpu_slot  # only jobs claim slots; tests call main() directly

    # The slot is claimed inside the log so the log records which GPU the job used.
    with log_to(snakemake.log[0]), gpu_slot(snakemake.resources.get("gpu", 0)):
        main(
            data_dir=Path(inputs.data),
            data_index=Path(inputs.index),
            probe_dir=Path(inputs.probe_data) if "probe_data" in inputs.keys() else None,
            probe_index=Path(inputs.probe_index) if "probe_index" in inputs.keys() else None,
            out_model=Path(snakemake.output.model),
            out_history=Path(snakemake.output.history),
            out_metrics=Path(snakemake.output.metrics),
            resume=Path(snakemake.params.resume),
            device=snakemake.params.device,
            precision=snakemake.params.precision,
            threads=snakemake.threads,
            **snakemake.params.hp,
        )
