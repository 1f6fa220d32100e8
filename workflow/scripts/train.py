"""Train one run (rule `train`): model.pt, history.csv, metrics.json and grad_flow.csv."""

import time
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from cvrepro.data.augment_presets import OFF, eval_resize, resolve
from cvrepro.data.tensors import SubsetFiles, TensorSet, channel_stats
from cvrepro.jobs.job import Job, provenance
from cvrepro.nets.catalog import weights_entry
from cvrepro.nets.checkpoint import ModelFiles, init_from_checkpoint, load_checkpoint, save_model_files
from cvrepro.nets.device import place_model
from cvrepro.nets.inference import evaluate
from cvrepro.nets.models import build_model, count_parameters, freeze, freeze_modules
from cvrepro.nets.pretrained import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    imagenet_state_dict,
    imagenet_weights,
    torchvision_state_dict,
)
from cvrepro.study.names import ARCHS
from cvrepro.train.engine import FitResult, fit
from cvrepro.train.resume import resume_file
from cvrepro.train.supervised import supervised, val_augmentation


def input_normalization(run: dict, train: TensorSet) -> tuple[list[float], list[float]]:
    """ImageNet's mean/std for ImageNet weights (normalize: auto) or when asked, else the
    training subset's own."""
    channels = train.images.shape[1]
    if run["normalize"] == "imagenet" or (run["normalize"] == "auto" and run["init"] == "imagenet"):
        return IMAGENET_MEAN[:channels], IMAGENET_STD[:channels]
    return channel_stats(train.images)


def build_network(
    run: dict, train: TensorSet, init_checkpoint: Path | None, ctx: Job
) -> tuple[nn.Module, dict, list[str]]:
    """The run's network, initialised as `init` says and frozen as `freeze` says: (net, arch, frozen)."""
    log = ctx.log
    arch = {
        **run["model"],
        "in_channels": train.images.shape[1],
        "num_classes": run["model"]["head"]["outputs"] or len(train.classes),
        "image_size": train.images.shape[-1],
    }
    if arch["arch"] not in ARCHS:  # torchvision's: built for the size it is fed and the weights it loads
        arch["image_size"] = eval_resize(run["augment"]) or arch["image_size"]
        arch["weights"] = ctx.imagenet_weights if run["init"] == "imagenet" else None
        if arch["weights"]:  # what weights.transforms() does, kept in the checkpoint and logged
            arch["weights_transforms"] = weights_entry(arch["arch"], arch["weights"])["transforms"]
            log(f"{arch['arch']} {arch['weights']} weights' preprocessing: {arch['weights_transforms']}")
    net = build_model(arch)
    if run["init"] == "imagenet":
        state = (
            imagenet_state_dict(
                run["model"]["arch"], ctx.imagenet_weights, arch["in_channels"], ctx.random_weights
            )
            if arch["arch"] in ARCHS
            else torchvision_state_dict(
                arch["arch"], ctx.imagenet_weights, arch["in_channels"], ctx.random_weights, arch["grey"]
            )
        )
        fresh = init_from_checkpoint(net, {"state_dict": state}, "imagenet")
        source = (
            "a rehearsal's random" if ctx.random_weights else f"torchvision's {ctx.imagenet_weights} ImageNet"
        )
        log(f"initialised from {source} weights; new: {fresh or 'nothing'}")
    elif init_checkpoint is not None:
        fresh = init_from_checkpoint(net, load_checkpoint(init_checkpoint), str(init_checkpoint))
        log(f"initialised from {init_checkpoint}; new: {fresh or 'nothing'}")
    frozen = freeze(net, run["freeze"]["children"], run["freeze"]["stages"])
    if run["freeze"]["modules"] or run["freeze"]["until"]:
        frozen += freeze_modules(net, run["freeze"]["modules"], run["freeze"]["until"])
    return net, arch, frozen


def run_metrics(run: dict, net: nn.Module, train: TensorSet, result: FitResult, finals: dict) -> dict:
    """metrics.json of a run: final scores, the best epoch's, time, size, and the recipe."""
    history = result.history
    seconds = sum(row["epoch_seconds"] for row in history)
    return {
        **finals,
        # Sum of epoch times, so a resumed run reports its training time, not the last session's.
        "train_time_s": seconds,
        # The best epoch's numbers (S6 reports max val accuracy and min val loss).
        "best_val_acc": max((row["val_acc"] for row in history if "val_acc" in row), default=None),
        "min_val_loss": min((row["val_loss"] for row in history if "val_loss" in row), default=None),
        "epochs": len(history),
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "train_images": len(train),
        "trained_params": count_parameters(net, trainable_only=True),
        "total_params": count_parameters(net),
        "images_per_s": len(train) * len(history) / seconds,
        "recipe": run,
    }


def done_line(run: dict, metrics: dict) -> str:
    """The job's last line. Its train_acc is on the clean training images; where the epoch lines'
    was on randomly augmented or mixed batches, it says so, as the two differ."""
    moved = {key: value for key, value in resolve(run["augment"]).items() if key != "size"}
    altered = moved != {key: value for key, value in OFF.items() if key != "size"} or (
        run["loss"]["mixup_alpha"] > 0 or run["loss"]["cutmix_alpha"] > 0
    )
    note = " (clean images; the epoch lines' are on augmented batches)" if altered else ""
    val = f"  val_acc {metrics['val_acc']:.4f}" if metrics["val_acc"] is not None else ""
    return f"done: train_acc {metrics['train_acc']:.4f}{note}{val}  {metrics['train_time_s']:.1f}s training"


def main(
    run: dict, *, train: SubsetFiles, val: SubsetFiles | None, init: Path | None, out: ModelFiles, ctx: Job
) -> dict:
    """`run`: the study's validated run (schema defaults filled), without its subset names; `init`:
    the checkpoint it starts from (`init: <name>`), if any."""
    device, log = ctx.device, ctx.log
    torch.manual_seed(run["seed"])
    train_set = train.load(device)
    val_set = val.load(device) if val is not None else None
    mean, std = input_normalization(run, train_set)
    net, arch, frozen = build_network(run, train_set, init, ctx)
    size = eval_resize(run["augment"])
    net = place_model(net, device, size or train_set.images.shape[-1])
    trained = count_parameters(net, trainable_only=True)
    log(
        f"{arch['arch']} on {device}: {len(train_set)} training images; frozen {frozen or 'nothing'}; "
        f"{trained} of {count_parameters(net)} parameters train"
    )
    method = supervised(net, run, mean, std, len(train_set.classes), val_set)
    start = time.perf_counter()
    result = fit(
        net,
        train_set,
        run,
        method,
        stopping=run["early_stopping"],
        watch_grads=run["grad_flow_per"] if run["grad_flow"] else None,
        resume=resume_file(out.resume, run, train.index, init),
        log=log,
    )
    wall = time.perf_counter() - start
    # Accuracy on the training images without augmentation: the reports' "training accuracy".
    final_train = evaluate(net, train_set, run["eval_batch_size"], mean, std, size)
    # With val_augment the final validation is one more seeded draw through the augmentation.
    draw = val_augmentation(run, torch.Generator(device=device).manual_seed(run["seed"]))
    final_val = evaluate(net, val_set, run["eval_batch_size"], mean, std, size, draw) if val_set else None
    finals = {
        "train_acc": final_train["acc"],
        "train_loss": final_train["loss"],
        "val_acc": final_val["acc"] if final_val else None,
        "val_loss": final_val["loss"] if final_val else None,
        "wall_time_s": wall,
        "frozen": frozen,
        "val_images": len(val_set) if val_set is not None else None,
    }
    metrics = run_metrics(run, net, train_set, result, finals)
    metrics["provenance"] = provenance(run, device, run["seed"], code=ctx.code)
    if run["init"] == "imagenet":  # which weights DEFAULT meant depends on torchvision's version
        weights = str(imagenet_weights(run["model"]["arch"], ctx.imagenet_weights))
        metrics["provenance"]["imagenet_weights"] = (
            f"random stand-in for {weights}" if ctx.random_weights else weights
        )
    step_column = ["step"] if run["grad_flow_per"] == "step" else []
    columns = ["epoch", *step_column, "layer", "mean_abs_grad", "max_abs_grad"]
    pd.DataFrame(result.grad_flow, columns=columns).to_csv(out.grad_flow, index=False)
    normalization = {"mean": mean, "std": std, "size": size}
    save_model_files(out, net, arch, normalization, train_set.classes, result.history, metrics, result.steps)
    log(done_line(run, metrics))
    return metrics


if __name__ == "__main__":
    from cvrepro.jobs.job import job, model_files, subset_input

    inputs, params = snakemake.input, snakemake.params
    with job(snakemake) as ctx:
        main(
            params.run,
            train=subset_input(snakemake, "train", "train"),
            val=subset_input(snakemake, "val", "val"),
            init=Path(inputs.init) if "init" in inputs.keys() else None,
            out=model_files(snakemake),
            ctx=ctx,
        )
