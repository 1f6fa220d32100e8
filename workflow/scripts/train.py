"""Train one run (rule `train`): model.pt, history.csv, metrics.json and grad_flow.csv."""

import json
import time
from pathlib import Path

import pandas as pd
import torch

from cvrepro.augment import eval_resize
from cvrepro.checkpoint import init_from_checkpoint, load_checkpoint, save_checkpoint
from cvrepro.data import channel_stats, load_subset
from cvrepro.freezing import freeze as freeze_children
from cvrepro.logs import log_to
from cvrepro.models import build_model, count_parameters
from cvrepro.pretrained import IMAGENET_MEAN, IMAGENET_STD, imagenet_state_dict
from cvrepro.provenance import config_hash, provenance
from cvrepro.resume import clear_state
from cvrepro.training import evaluate, fit, job_device, memory_format


def main(
    *,
    train_data: Path,
    train_index: Path,
    train_split: str,
    out_model: Path,
    out_history: Path,
    out_metrics: Path,
    out_grad_flow: Path | None = None,
    model: dict,
    epochs: int,
    batch_size: int,
    eval_batch_size: int,
    optimizer: dict,
    schedule: dict,
    augment: str | dict,
    seed: int,
    init: str = "scratch",
    normalize: str = "auto",
    freeze: dict | None = None,
    loss: dict | None = None,
    early_stopping: dict | None = None,
    grad_flow: bool = False,
    init_checkpoint: Path | None = None,
    val_data: Path | None = None,
    val_index: Path | None = None,
    val_split: str | None = None,
    resume: Path | None = None,
    device: str = "auto",
    precision: str = "auto",
    threads: int = 1,
) -> dict:
    freeze = freeze or {"children": 0, "stages": []}
    loss = loss or {"name": "ce"}
    hparams = {
        "model": model,
        "epochs": epochs,
        "batch_size": batch_size,
        "eval_batch_size": eval_batch_size,
        "optimizer": optimizer,
        "schedule": schedule,
        "augment": augment,
        "seed": seed,
        "init": init,
        "normalize": normalize,
        "freeze": freeze,
        "loss": loss,
        "early_stopping": early_stopping,
        "grad_flow": grad_flow,
        "train_split": train_split,
        "val_split": val_split,
    }
    run_hash = config_hash(hparams)
    torch.manual_seed(seed)
    dev = job_device(device, precision, threads)

    train = load_subset(train_data, train_split, train_index, dev)
    val = load_subset(val_data, val_split, val_index, dev) if val_data is not None else None
    if normalize == "imagenet" or (normalize == "auto" and init == "imagenet"):
        mean, std = IMAGENET_MEAN[: train.images.shape[1]], IMAGENET_STD[: train.images.shape[1]]
    else:
        mean, std = channel_stats(train.images)
    arch = {
        **model,
        "in_channels": train.images.shape[1],
        "num_classes": len(train.classes),
        "image_size": train.images.shape[-1],
    }
    net = build_model(arch)
    if init == "imagenet":
        fresh = init_from_checkpoint(
            net, {"state_dict": imagenet_state_dict(model["arch"], arch["in_channels"])}, "imagenet"
        )
        print(f"initialised from torchvision's ImageNet weights; new: {fresh or 'nothing'}")
    elif init_checkpoint is not None:
        fresh = init_from_checkpoint(net, load_checkpoint(init_checkpoint), str(init_checkpoint))
        print(f"initialised from {init_checkpoint}; new: {fresh or 'nothing'}")
    frozen = freeze_children(net, freeze["children"], freeze["stages"])
    net = net.to(dev, memory_format=memory_format(dev, eval_resize(augment) or train.images.shape[-1]))
    print(
        f"{arch} on {dev}; {len(train)} training images; frozen {frozen or 'nothing'}; "
        f"{count_parameters(net, True)} of {count_parameters(net)} parameters train"
    )

    start = time.perf_counter()
    result = fit(net, train, val, hparams, mean, std, resume_path=resume, run_hash=run_hash)
    train_time = time.perf_counter() - start

    # Accuracy on the training images without augmentation: the reports' "training accuracy".
    size = eval_resize(augment)
    final_train = evaluate(net, train, eval_batch_size, mean, std, size)
    final_val = evaluate(net, val, eval_batch_size, mean, std, size) if val is not None else None
    info = provenance(hparams, dev, seed)
    metrics = {
        "train_acc": final_train["acc"],
        "train_loss": final_train["loss"],
        "val_acc": final_val["acc"] if final_val else None,
        "val_loss": final_val["loss"] if final_val else None,
        # Sum of epoch times, so a resumed run reports its training time, not the last session's.
        "train_time_s": sum(row["epoch_seconds"] for row in result.history),
        "wall_time_s": train_time,
        # The best epoch's numbers (S6 reports max val accuracy and min val loss).
        "best_val_acc": max(
            (row["val_acc"] for row in result.history if row.get("val_acc") is not None), default=None
        ),
        "min_val_loss": min(
            (row["val_loss"] for row in result.history if row.get("val_loss") is not None), default=None
        ),
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "train_images": len(train),
        "trained_params": count_parameters(net, trainable_only=True),
        "total_params": count_parameters(net),
        "frozen": frozen,
        "images_per_s": len(train)
        * len(result.history)
        / sum(row["epoch_seconds"] for row in result.history),
        "hparams": hparams,
        "provenance": info,
    }
    save_checkpoint(
        out_model,
        net,
        arch=arch,
        hparams=hparams,
        normalization={"mean": mean, "std": std, "size": size},
        classes=train.classes,
        seed=seed,
        provenance=info,
    )
    pd.DataFrame(result.history).to_csv(out_history, index=False)
    if out_grad_flow is not None:
        pd.DataFrame(result.grad_flow, columns=["epoch", "layer", "mean_abs_grad"]).to_csv(
            out_grad_flow, index=False
        )
    Path(out_metrics).write_text(json.dumps(metrics, indent=2) + "\n")
    clear_state(resume)
    print(
        f"train_acc {metrics['train_acc']:.4f}  val_acc {metrics['val_acc']}  {metrics['train_time_s']:.1f}s"
    )
    return metrics


if __name__ == "__main__":
    inputs = snakemake.input
    from cvrepro.gpu_slots import gpu_slot  # only jobs claim slots; tests call main() directly

    # The slot is claimed inside the log so the log records which GPU the job used.
    with log_to(snakemake.log[0]), gpu_slot(snakemake.resources.get("gpu", 0)):
        main(
            train_data=Path(inputs.train_data),
            train_index=Path(inputs.train_index),
            val_data=Path(inputs.val_data) if "val_data" in inputs.keys() else None,
            val_index=Path(inputs.val_index) if "val_index" in inputs.keys() else None,
            init_checkpoint=Path(inputs.init) if "init" in inputs.keys() else None,
            out_model=Path(snakemake.output.model),
            out_history=Path(snakemake.output.history),
            out_metrics=Path(snakemake.output.metrics),
            out_grad_flow=Path(snakemake.output.grad_flow),
            resume=Path(snakemake.params.resume),
            device=snakemake.params.device,
            precision=snakemake.params.precision,
            threads=snakemake.threads,
            **snakemake.params.hp,
        )
