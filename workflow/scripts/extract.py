"""Extract features of a subset at a chosen layer, or its raw pixels (rule `extract`)."""

import json
from pathlib import Path

import numpy as np

from cvrepro.data.tensors import SubsetFiles
from cvrepro.jobs.job import Job, job, model_and_subset
from cvrepro.nets.checkpoint import load_initial_model, load_model
from cvrepro.nets.device import place_model
from cvrepro.nets.imagenet_features import imagenet_feature_net, preprocessing, preprocessor
from cvrepro.nets.inference import extract_features
from cvrepro.nets.models import ResNet
from cvrepro.nets.pretrained import IMAGENET_MEAN, IMAGENET_STD, imagenet_state_dict
from cvrepro.study.names import RESNETS

IMAGENET_SIZE = 224  # torchvision's ImageNet weights were trained at 224 px


def imagenet_model(arch: str, version: str, in_channels: int, random_dir: Path | None = None) -> ResNet:
    """torchvision's ImageNet ResNet, weights `version` (our module names are torchvision's, so it
    loads strictly); `random_dir`: a rehearsal's random stand-in (cvrepro.nets.pretrained)."""
    model = ResNet(arch=arch, num_classes=1000, in_channels=in_channels, width=64, stem="imagenet")
    model.load_state_dict(imagenet_state_dict(arch, version, in_channels, random_dir))
    return model


def main(
    subset: SubsetFiles,
    out: Path,
    model_path: Path | None,
    imagenet_arch: str | None,
    layer: str,
    ctx: Job,
    init_seed: int | None = None,
) -> np.ndarray:
    """Features of a trained model, of an ImageNet model, or raw pixels in [0, 1] (neither given).
    `init_seed`: the trained model's network at its initialisation instead (`<pretraining>@init`),
    drawn as the pretraining drew it: the seed, then the architecture built before anything else."""
    dev = ctx.device
    data = subset.load(dev)
    channels = data.images.shape[1]
    preprocess = None  # how the images became the model's input, kept with the features
    if imagenet_arch is not None and imagenet_arch not in RESNETS:  # any other torchvision model
        preprocess = preprocessing(imagenet_arch, ctx.imagenet_weights, ctx.random_weights is not None)
        net = imagenet_feature_net(imagenet_arch, ctx.imagenet_weights, channels, ctx.random_weights)
        model = place_model(net, dev, preprocess["crop"])
        features = extract_features(model, data, [], [], None, layer, preprocess=preprocessor(preprocess))
    elif imagenet_arch is not None:
        model = place_model(
            imagenet_model(imagenet_arch, ctx.imagenet_weights, channels, ctx.random_weights),
            dev,
            IMAGENET_SIZE,
        )
        features = extract_features(
            model, data, IMAGENET_MEAN[:channels], IMAGENET_STD[:channels], IMAGENET_SIZE, layer
        )
    elif model_path is not None:
        if init_seed is None:
            model, checkpoint = load_model(model_path)
        else:
            model, checkpoint = load_initial_model(model_path, init_seed)
        norm = checkpoint["normalization"]
        side = norm["size"] or data.images.shape[-1]
        model = place_model(model, dev, side)
        features = extract_features(model, data, norm["mean"], norm["std"], norm["size"], layer)
    else:
        features = (data.images.float() / 255).flatten(1).cpu().numpy()
    np.savez(
        out,
        features=features.astype(np.float32),
        labels=data.labels.cpu().numpy(),
        classes=np.array(data.classes),
        **({"preprocess": np.array(json.dumps(preprocess))} if preprocess else {}),
    )
    if preprocess:
        ctx.log(
            f"preprocessing of {imagenet_arch}'s {ctx.imagenet_weights} weights: {json.dumps(preprocess)}"
        )
    origin = (
        f"{model_path}{' at its initialisation' if init_seed is not None else ''}" if model_path else None
    )
    ctx.log(
        f"{features.shape} features of {subset.split} from {origin or imagenet_arch or 'pixels'} ({layer})"
    )
    return features


if __name__ == "__main__":
    with job(snakemake) as ctx:
        model_path, subset = model_and_subset(snakemake)
        imagenet_arch, layer = snakemake.params.imagenet_arch, snakemake.wildcards.layer
        init_seed = snakemake.params.init_seed
        main(subset, Path(snakemake.output[0]), model_path, imagenet_arch, layer, ctx, init_seed)
