"""The augmentation presets and their parameters, without torch: the config checks them while
Snakemake parses the workflow, and cvrepro.data.batch_augment applies them to batches."""

from __future__ import annotations

# Every parameter an augmentation has, at its "off" value: a preset sets the ones it uses.
OFF: dict = {
    "size": None,  # resize to this side first (and evaluate at it too)
    "scale": None,  # random resized crop: area fraction range (None: no crop)
    "ratio": (3 / 4, 4 / 3),  # ... and its aspect-ratio range
    "padding": 0,  # zero-pad and crop back at a random offset
    "flip_p": 0.0,
    "rotation": 0.0,  # degrees, uniform in [-r, r]
    "jitter": 0.0,  # brightness/contrast/saturation factors in [1 - j, 1 + j]
    "jitter_p": 1.0,
    "hue": 0.0,  # hue rotation by a factor in [-hue, hue] turns (torchvision's; at most 0.5), with p jitter_p
    "grayscale_p": 0.0,
    "blur_p": 0.0,
    "noise_std": 0.0,  # Gaussian noise on [0, 1] pixels
}

# SimCLR's crop, flip and colour jitter at strength 0.5 (jitter 0.8 x 0.5, with p 0.8), shared by
# SimCLR's views and S6's supervised baseline.
_CROP_FLIP_JITTER = {"ratio": (3 / 4, 4 / 3), "flip_p": 0.5, "jitter": 0.4, "jitter_p": 0.8}

PRESETS: dict[str, dict] = {
    "none": {},
    "flip": {"flip_p": 0.5},
    # The standard CIFAR recipe: pad 4, random crop back to size, horizontal flip.
    "crop_flip": {"padding": 4, "flip_p": 0.5},
    # S2 (seed 001): resize to 224, horizontal flip p=0.4, random rotation up to 30 degrees.
    "s2_transfer": {"size": 224, "flip_p": 0.4, "rotation": 30.0},
    # S6 (seed 003) supervised baseline: random resized crop, colour jitter (brightness, contrast,
    # saturation and hue, the report's RandomColorJitter), Gaussian noise, flip. The report gives
    # no values: these are ours (hue 0.1 = SimCLR's 0.2 x strength 0.5, as jitter 0.4 = 0.8 x 0.5).
    "s6_supervised": {**_CROP_FLIP_JITTER, "scale": (0.2, 1.0), "hue": 0.1, "noise_std": 0.05},
    # SimCLR's view pipeline (Chen et al., 2020): crop, flip, jitter p=0.8, grayscale p=0.2, blur p=0.5.
    # hue 0: Chen et al. use 0.2 x strength; 0 keeps the recipes that use this preset as they were.
    "simclr": {**_CROP_FLIP_JITTER, "scale": (0.08, 1.0), "hue": 0.0, "grayscale_p": 0.2, "blur_p": 0.5},
}


def resolve(spec: str | dict) -> dict:
    """Every parameter (OFF, then the preset's, then a dict spec's overrides); a dict may only
    override what its preset uses. Unknown names or keys raise."""
    name = spec if isinstance(spec, str) else spec.get("name")
    if name not in PRESETS:
        raise ValueError(f"unknown augmentation {name!r}; choose from {list(PRESETS)}")
    params = dict(PRESETS[name])
    if isinstance(spec, dict):
        extra = {k: v for k, v in spec.items() if k != "name"}
        unknown = sorted(set(extra) - set(params))
        if unknown:
            raise ValueError(
                f"augmentation {name!r} has no parameter {unknown[0]!r}; it has {sorted(params)}"
            )
        params.update(extra)
    return {**OFF, **params}


def eval_resize(spec: str | dict) -> int | None:
    """The size evaluation images must be resized to for a model trained with this preset."""
    return resolve(spec)["size"]
