"""Pretrain an encoder with one of the pretraining methods of cvrepro.train.methods (rule `pretrain`)."""

import torch

from cvrepro.data.tensors import SubsetFiles, channel_stats
from cvrepro.jobs.job import Job, provenance
from cvrepro.nets.checkpoint import ModelFiles, save_model_files
from cvrepro.nets.device import place_model
from cvrepro.nets.models import build_model, count_parameters
from cvrepro.train.batches import steps_per_epoch
from cvrepro.train.collapse import collapse_warning, with_collapse
from cvrepro.train.engine import fit
from cvrepro.train.methods import pretrain_net, pretraining_method
from cvrepro.train.resume import resume_file


def main(
    pretraining: dict,
    *,
    data: SubsetFiles,
    probe: SubsetFiles | None,
    probe_val: SubsetFiles | None,
    out: ModelFiles,
    ctx: Job,
) -> dict:
    """`pretraining`: the study's validated pretraining (defaults filled), without subset names."""
    torch.manual_seed(pretraining["seed"])
    device, log = ctx.device, ctx.log
    images = data.load(device)
    probe_set = probe.load(device) if probe is not None else None
    probe_val_set = probe_val.load(device) if probe_val is not None else None
    mean, std = channel_stats(images.images)
    arch = {
        **pretraining["model"],
        "in_channels": images.images.shape[1],
        "num_classes": len(images.classes),
        "image_size": images.images.shape[-1],
    }
    # The encoder and the heads its method trains it through (cvrepro.train.methods). The encoder
    # is the first draw after the seed: `<pretraining>@init` features draw it again
    # (nets.checkpoint.load_initial_model).
    net = place_model(pretrain_net(build_model(arch), pretraining), device, images.images.shape[-1])
    log(f"{pretraining['method']} pretraining of {arch['arch']} on {len(images)} images ({device})")
    steps = steps_per_epoch(len(images), pretraining["batch_size"])
    method = pretraining_method(net, pretraining, mean, std, probe_set, probe_val=probe_val_set, steps=steps)
    # Collapse measures after each epoch on a fixed batch (cvrepro.train.collapse): numerics unchanged.
    method = with_collapse(method, net, images.images, mean, std, log)
    resume = resume_file(out.resume, pretraining, data.index)
    result = fit(net, images, pretraining, method, resume=resume, log=log)
    history = result.history
    last = history[-1]
    metrics = {
        "method": pretraining["method"],
        "train_loss": last["train_loss"],
        "contrastive_acc": last.get("contrastive_acc"),  # per-method columns of the history
        "probe_acc": last.get("probe_acc"),
        "train_time_s": sum(row["epoch_seconds"] for row in history),
        "epochs": len(history),
        "train_images": len(images),
        "trained_params": count_parameters(net, trainable_only=True),
        "recipe": pretraining,
        "provenance": provenance(pretraining, device, pretraining["seed"], code=ctx.code),
    }
    # The collapse measures of the last epoch and the report's warning (cvrepro.train.collapse).
    metrics.update({key: last[key] for key in ("out_std", "out_std_ratio", "eff_rank")})
    metrics["collapse_warning"] = collapse_warning(last)
    # probe: online (S6's probe trained alongside): its last epoch's running train and val accuracy
    metrics.update({key: last[key] for key in ("probe_train_acc", "probe_val_acc") if key in last})
    # The encoder alone, loadable by `init: <name>` and by feature extraction (its fc is unused).
    normalization = {"mean": mean, "std": std, "size": None}
    save_model_files(out, net.encoder, arch, normalization, images.classes, history, metrics, result.steps)
    return metrics


if __name__ == "__main__":
    from cvrepro.jobs.job import job, model_files, subset_input

    params = snakemake.params
    with job(snakemake) as ctx:
        main(
            params.pretraining,
            data=subset_input(snakemake, "", "data"),
            probe=subset_input(snakemake, "probe", "probe_data"),
            probe_val=subset_input(snakemake, "probe_val", "probe_val"),
            out=model_files(snakemake),
            ctx=ctx,
        )
