"""Caveats the seed reports miss, found from what a study does (light: read while Snakemake parses)."""

from __future__ import annotations

# Datasets whose images were drawn from ImageNet: ImageNet-pretrained models have seen them (or
# their near-duplicates), so transfer numbers on them are optimistic.
FROM_IMAGENET = {"stl10": "STL-10", "tiny_imagenet": "Tiny-ImageNet"}


def automatic_caveats(spec: dict) -> list[str]:
    """Caveats the seed reports miss, found from what the study does."""
    caveats = []
    datasets = {subset["dataset"] for subset in spec["subsets"].values()}
    uses_imagenet = any(run["init"] == "imagenet" for run in spec["runs"].values()) or any(
        probe["features"].startswith("imagenet_") for probe in spec["probes"].values()
    )
    for name, label in FROM_IMAGENET.items():
        if name in datasets:
            caveats.append(
                f"{label}'s images come from ImageNet"
                + (
                    ", and this study starts from ImageNet-trained weights: those numbers are optimistic "
                    "(the network may have seen these very images, or near-duplicates, in pretraining)."
                    if uses_imagenet
                    else "; an ImageNet-pretrained model evaluated on it would be optimistic."
                )
            )
    for name, sweep in spec["bn_sweeps"].items():
        small = [size for size in sweep["batch_sizes"] if size <= 8]
        if "train" in sweep["modes"] and small:
            caveats.append(
                f"BN sweep `{name}`: train-mode BatchNorm at test batch size {min(small)} normalises each image by "
                "the statistics of a handful of images, so accuracy there mixes adaptation to the shift with "
                "noise in the statistics (and depends on the other images of the batch: in class-sorted order "
                "it falls further); it also costs accuracy on clean data. Eval mode does not depend on the batch."
            )
    return caveats
