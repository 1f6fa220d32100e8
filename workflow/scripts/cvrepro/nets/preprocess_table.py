"""The report's "Preprocessing per model" section: how each ImageNet-initialised run and each
ImageNet feature source of a study prepares its images, from the study and the model catalog,
without torch (the report rule computes it while Snakemake parses the workflow).

ImageNet feature sources of torchvision's models use their weights' transforms() (resize the
shorter side, centre crop, interpolation, mean, std: cvrepro.nets.imagenet_features); cvrepro's
resnet18/34/50 sources resize the whole image to 224 px (extract.py); a training run prepares its
images as the study says (its augment's evaluation size, its normalisation)."""

from __future__ import annotations

from cvrepro.data.augment_presets import eval_resize
from cvrepro.nets.catalog import rehearsal_crop, resolve_weights, weights_entry
from cvrepro.study import Study
from cvrepro.study.names import IMAGENET_SOURCES, RESNETS

RESNET_SIZE = 224  # extract.py's IMAGENET_SIZE: cvrepro's ResNet sources see 224 x 224 images
IMAGENET_MEAN_STD = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
HEADER = (
    "| model | network | preprocessing from | resize | crop | interpolation | mean | std |\n"
    "|---|---|---|---|---|---|---|---|"
)


def _numbers(values: list[float]) -> str:
    return ", ".join(f"{v:g}" for v in values)


def _source_row(source: str, version: str) -> str:
    arch = source.removeprefix("imagenet_")
    mean, std = IMAGENET_MEAN_STD
    if arch in RESNETS:
        return (
            f"| {source} | {arch}, {resolve_weights(arch, version)} (frozen) | cvrepro (extract.py) | "
            f"whole image to {RESNET_SIZE} x {RESNET_SIZE} | – | bilinear | {_numbers(mean)} | {_numbers(std)} |"
        )
    t = weights_entry(arch, version)["transforms"]
    return (
        f"| {source} | {arch}, {resolve_weights(arch, version)} (frozen) | the weights' transforms() | "
        f"shorter side to {t['resize']} | {t['crop']} x {t['crop']} | {t['interpolation']} | "
        f"{_numbers(t['mean'])} | {_numbers(t['std'])} |"
    )


def _run_row(name: str, run: dict, version: str) -> str:
    arch = run["model"]["arch"]
    size = eval_resize(run["augment"])
    resize = f"whole image to {size} x {size}" if size else "none (images as prepared)"
    imagenet = run["normalize"] in ("imagenet", "auto")
    mean, std = (_numbers(v) for v in IMAGENET_MEAN_STD) if imagenet else ("training subset's",) * 2
    return (
        f"| {name} | {arch}, {resolve_weights(arch, version)} (trained) | the study "
        f"(augment, normalize: {run['normalize']}) | {resize} | – | bilinear | {mean} | {std} |"
    )


def preprocessing_markdown(study: Study) -> str:
    """The section's text ("" for a study without ImageNet weights)."""
    version = study.spec["imagenet_weights"]
    rows = [_run_row(n, r, version) for n, r in study.runs.items() if r["init"] == "imagenet"]
    sources = sorted({p["features"] for p in study.probes.values() if p["features"] in IMAGENET_SOURCES})
    rows += [_source_row(source, version) for source in sources]
    if not rows:
        return ""
    text = HEADER + "\n" + "\n".join(rows) + "\n"
    shrunk = [s for s in sources if s.removeprefix("imagenet_") not in RESNETS]
    if study.rehearsal_of is not None and shrunk:
        sizes = ", ".join(f"{s} {rehearsal_crop(s.removeprefix('imagenet_'))} px" for s in shrunk)
        text += (
            f"\nThis rehearsal's random stand-in weights were read at the smallest size each model "
            f"takes (crop: {sizes}; the resize scaled with it); the real run uses the sizes above.\n"
        )
    return text
