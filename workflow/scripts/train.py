"""Train one run (rule `train`): model.pt, history.csv and metrics.json."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import torch

from cvrepro.checkpoint import init_from_checkpoint, load_checkpoint, save_checkpoint
from cvrepro.data import channel_stats, load_subset
from cvrepro.logs import log_to
from cvrepro.models import build_model, count_parameters
from cvrepro.provenance import provenance
from cvrepro.training import evaluate, fit, resolve_device


def main(
    *,
    train_data: Path,
    train_index: Path,
    train_split: str,
    out_model: Path,
    out_history: Path,
    out_metrics: Path,
    model: dict,
    epochs: int,
    batch_size: int,
    eval_batch_size: int,
    optimizer: dict,
    schedule: dict,
    augment: str,
    seed: int,
    init: str = "scratch",
    init_checkpoint: Path | None = None,
    val_data: Path | None = None,
    val_index: Path | None = None,
    val_split: str | None = None,
    device: str = "auto",
    threads: int = 1,
) -> dict:
    hparams = {
        "model": model, "epochs": epochs, "batch_size": batch_size, "eval_batch_size": eval_batch_size,
        "optimizer": optimizer, "schedule": schedule, "augment": augment, "seed": seed, "init": init,
    }
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True

    train = load_subset(train_data, train_split, train_index, dev)
    val = load_subset(val_data, val_split, val_index, dev) if val_data is not None else None
    mean, std = channel_stats(train.images)
    arch = {**model, "in_channels": train.images.shape[1], "num_classes": len(train.classes)}
    net = build_model(arch)
    if init_checkpoint is not None:
        fresh = init_from_checkpoint(net, load_checkpoint(init_checkpoint), str(init_checkpoint))
        print(f"initialised from {init_checkpoint}; new: {fresh or 'nothing'}")
    net = net.to(dev)
    if dev.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    print(f"{arch} on {dev}; {len(train)} training images, {count_parameters(net, True)} trainable parameters")

    start = time.perf_counter()
    history = fit(
        net, train, val, epochs=epochs, batch_size=batch_size, eval_batch_size=eval_batch_size,
        optimizer_spec=optimizer, schedule_spec=schedule, augment=augment, mean=mean, std=std, seed=seed,
    )
    train_time = time.perf_counter() - start

    # Accuracy on the training images without augmentation, as the reports' "training accuracy".
    final_train = evaluate(net, train, eval_batch_size, mean, std)
    final_val = evaluate(net, val, eval_batch_size, mean, std) if val is not None else None
    info = provenance(hparams, dev, seed)
    metrics = {
        "train_acc": final_train["acc"],
        "train_loss": final_train["loss"],
        "val_acc": final_val["acc"] if final_val else None,
        "val_loss": final_val["loss"] if final_val else None,
        "train_time_s": train_time,
        "epochs": epochs,
        "train_images": len(train),
        "trained_params": count_parameters(net, trainable_only=True),
        "total_params": count_parameters(net),
        "images_per_s": sum(r["images_per_s"] for r in history) / len(history),
        "hparams": hparams,
        "provenance": info,
    }
    save_checkpoint(
        out_model, net, arch=arch, hparams=hparams, normalization={"mean": mean, "std": std},
        classes=train.classes, seed=seed, provenance=info,
    )
    pd.DataFrame(history).to_csv(out_history, index=False)
    Path(out_metrics).write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"train_acc {metrics['train_acc']:.4f}  val_acc {metrics['val_acc']}  {train_time:.1f}s")
    return metrics


if __name__ == "__main__":
    inputs = snakemake.input
    with log_to(snakemake.log[0]):
        main(
            train_data=Path(inputs.train_data),
            train_index=Path(inputs.train_index),
            val_data=Path(inputs.val_data) if "val_data" in inputs.keys() else None,
            val_index=Path(inputs.val_index) if "val_index" in inputs.keys() else None,
            init_checkpoint=Path(inputs.init) if "init" in inputs.keys() else None,
            out_model=Path(snakemake.output.model),
            out_history=Path(snakemake.output.history),
            out_metrics=Path(snakemake.output.metrics),
            device=snakemake.params.device,
            threads=snakemake.threads,
            **snakemake.params.hp,
        )
