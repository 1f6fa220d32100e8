"""What every dataset source declares (SourceKind), the listing it makes, and the errors it raises.

A source turns a study's declaration (`datasets.<name>` of the study file, filled by the schema)
into a Listing: the class names and, per split, every image's path and label, in the order the
prepared arrays will hold them. The listing is made while Snakemake parses the workflow (sizes
and class counts are checked against it before any job), so a source's `listing` is light: it
reads directory entries and CSV rows, never an image's pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# torchvision.datasets.folder.IMG_EXTENSIONS, compared in lower case as ImageFolder does.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
UNLABELLED_SPLIT = "unlabeled"  # the split of a `labels: none` folder (as STL-10 names its own)
# A source whose sizes are known only once prepared (torchvision): the checks allow any size,
# and the subset job checks the prepared split.
UNKNOWN = 10**9


class SourceError(ValueError):
    """A declared dataset cannot be used: one line naming the key or file and what to do."""


@dataclass
class Listing:
    """Class names and, per split, (path, label) of every image in prepared order."""

    classes: list[str]
    splits: dict[str, list[tuple[str, int]]]
    sizes_known: bool = True
    extra: dict = field(default_factory=dict)  # source-specific facts for provenance

    def counts(self, split: str) -> list[int]:
        """Images of each class in `split` (an unlabelled split: one count, of all its images)."""
        per_class = [0] * max(len(self.classes), 1)
        for _, label in self.splits[split]:
            per_class[max(label, 0)] += 1
        return per_class


@dataclass(frozen=True)
class SourceKind:
    """One dataset source: how it lists a declaration and, where its items are not files, how it
    decodes them.

    listing(name, entry) -> Listing: `entry` is the declaration as the schema filled it.
    decode(name, entry, split, settings) -> (classes, [(item, label, Decoded)]): for a source
    whose images are not files listed beforehand (torchvision); None: each listed file is
    decoded (folder, csv).
    """

    listing: Callable[[str, dict], Listing]
    describe: str
    decode: Callable | None = None
