"""`source: torchvision`: a class of torchvision.datasets by name (SVHN, Flowers102, EuroSAT, ...).

`path` is the class's `root`; `args` go to every split (`download: true` lets torchvision fetch
the files and check them with its own checksums); `splits` maps our split names to the class's
own arguments, e.g. {train: {train: true}, test: {train: false}} for MNIST or {train: {split:
train}} for SVHN. Each image is decoded once, as a folder's are. Sizes are known only once
prepared: the subset job checks them against the prepared split.
"""

from __future__ import annotations

import hashlib
import inspect
import sys

from cvrepro.data.sources.kind import Listing, SourceError, SourceKind


def dataset_class(name: str, entry: dict):
    import torchvision.datasets

    key = f"datasets.{name}"
    cls = getattr(torchvision.datasets, entry["class"], None)
    if not inspect.isclass(cls):
        known = [
            n
            for n in dir(torchvision.datasets)
            if n[0].isupper() and inspect.isclass(getattr(torchvision.datasets, n))
        ]
        raise SourceError(
            f"{key}.class: torchvision.datasets has no class {entry['class']!r} (torchvision "
            f"{torchvision.__version__}); choose one of {', '.join(known[:12])}, ..."
        )
    signature = inspect.signature(cls)
    for split, split_args in entry["splits"].items():
        try:
            signature.bind(root=entry["path"], **{**entry["args"], **split_args})
        except TypeError as error:
            raise SourceError(
                f"{key}.splits.{split}: torchvision.datasets.{entry['class']} {error}; it takes "
                f"{', '.join(signature.parameters)}"
            ) from None
    return cls


def listing(name: str, entry: dict) -> Listing:
    dataset_class(name, entry)
    return Listing([], {split: [] for split in entry["splits"]}, sizes_known=False)


def decode(name: str, entry: dict, split: str, settings: dict, rehearsal: bool) -> tuple[list[str], list]:
    """(classes, [(item, label, Decoded)]) of one split, read through the class itself."""
    from cvrepro.data.sources import REHEARSAL_PER_CLASS
    from cvrepro.data.sources._decode import Decoded, convert

    cls = dataset_class(name, entry)
    try:
        dataset = cls(root=entry["path"], **{**entry["args"], **entry["splits"][split]})
    except (RuntimeError, OSError, ValueError) as error:
        reason = " ".join(str(error).split())
        raise SourceError(
            f"datasets.{name}: torchvision.datasets.{entry['class']} could not open split {split!r} under "
            f"{entry['path']} ({reason}); place its files there or set args: {{download: true}}"
        ) from None
    rows, taken = [], {}
    for i in range(len(dataset)):
        image, target = dataset[i]
        label = int(target)
        if rehearsal and taken.get(label, 0) >= REHEARSAL_PER_CLASS:
            continue
        taken[label] = taken.get(label, 0) + 1
        array, done = convert(image, settings)
        digest = hashlib.sha1(array.tobytes()).hexdigest()
        rows.append((f"{split}[{i}]", label, Decoded(array, image.size, done, digest)))
        if (i + 1) % max(1, len(dataset) // 10) == 0:
            print(f"{name}/{split}: {i + 1}/{len(dataset)} images decoded", file=sys.stderr, flush=True)
    classes = list(getattr(dataset, "classes", []) or [str(c) for c in range(max(taken) + 1)])
    return classes, rows


KIND = SourceKind(listing=listing, describe="a torchvision.datasets class", decode=decode)
