"""Evaluate a trained run on one subset (rule `evaluate`)."""

from pathlib import Path

import numpy as np
import torch

from cvrepro.data.tensors import SubsetFiles
from cvrepro.evaluate.metrics import classification_metrics, expected_calibration_error, one_vs_rest_roc
from cvrepro.jobs.job import Job, code_provenance, device_name, job, model_and_subset
from cvrepro.nets.checkpoint import load_model
from cvrepro.nets.device import place_model
from cvrepro.nets.inference import predict
from cvrepro.study.jsonio import write_json


def main(
    model_path: Path,
    subset: SubsetFiles,
    out_metrics: Path,
    out_predictions: Path,
    ctx: Job,
    batch_size: int,
) -> dict:
    """Scores of the model at `model_path` on `subset`, forward passes of `batch_size` images
    (the run's eval_batch_size)."""
    dev = ctx.device
    model, checkpoint = load_model(model_path)
    side = checkpoint["normalization"]["size"] or checkpoint["arch"].get("image_size")
    model = place_model(model, dev, side)
    data = subset.load(dev)
    norm = checkpoint["normalization"]
    logits = predict(model, data, batch_size, norm["mean"], norm["std"], norm["size"])
    probs = torch.softmax(logits, 1).cpu().numpy()
    y_true = data.labels.cpu().numpy()
    metrics = classification_metrics(y_true, probs, checkpoint["classes"])
    metrics["ece"] = expected_calibration_error(y_true, probs)
    metrics["roc"] = one_vs_rest_roc(y_true, probs, checkpoint["classes"])
    metrics["model"] = str(model_path)
    # The training job's provenance (its `code` included), plus this evaluation's device and code.
    metrics["provenance"] = {
        **checkpoint["provenance"],
        "eval_device": device_name(dev),
        **code_provenance(ctx.code, "eval_code"),
    }
    write_json(out_metrics, metrics)  # NaN is an error, not invalid JSON
    np.savez_compressed(
        out_predictions, y_true=y_true, y_pred=probs.argmax(1), probs=probs.astype(np.float32)
    )
    ctx.log(
        f"{subset.split}: test_acc {metrics['test_acc']:.4f} on {metrics['test_images']} images, batches of {batch_size}"
    )
    return metrics


if __name__ == "__main__":
    with job(snakemake) as ctx:
        out = snakemake.output
        batch_size = snakemake.params.batch_size
        main(*model_and_subset(snakemake), Path(out.metrics), Path(out.predictions), ctx, batch_size)
