"""torchvision's ImageNet weights files, known without importing torch or torchvision.

What a real run will fetch must be known while Snakemake parses the workflow (the rehearsal's
REPORT.md, `make why`), where importing torchvision's model registry costs seconds. The table
below holds what torchvision 0.19 and later publish for the architectures the studies can load
ImageNet weights into (cvrepro.study.names.RESNETS): each version's file name (the hash prefix in
it is what cvrepro.nets.pretrained checks), and the size torchvision's metadata gives
(`_file_size`, MiB). tests/test_downloads_plan.py holds it equal to the installed torchvision's
weights enums, DEFAULT included.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cvrepro.nets.catalog import resolve_weights, weights_entry

URL_BASE = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class WeightsFile:
    arch: str
    version: str  # IMAGENET1K_V1 or IMAGENET1K_V2 (DEFAULT resolved)
    filename: str
    mib: float  # torchvision's meta["_file_size"]

    @property
    def url(self) -> str:
        return URL_BASE + self.filename

    @property
    def size(self) -> int:
        """Bytes, from torchvision's size in MiB (to the nearest kiB)."""
        return round(self.mib * 1024) * 1024


WEIGHTS: dict[tuple[str, str], WeightsFile] = {
    (w.arch, w.version): w
    for w in (
        WeightsFile("resnet18", "IMAGENET1K_V1", "resnet18-f37072fd.pth", 44.661),
        WeightsFile("resnet34", "IMAGENET1K_V1", "resnet34-b627a593.pth", 83.275),
        WeightsFile("resnet50", "IMAGENET1K_V1", "resnet50-0676ba61.pth", 97.781),
        WeightsFile("resnet50", "IMAGENET1K_V2", "resnet50-11ad3fa6.pth", 97.79),
    )
}
# torchvision's DEFAULT: its best weights of each architecture.
DEFAULT = {"resnet18": "IMAGENET1K_V1", "resnet34": "IMAGENET1K_V1", "resnet50": "IMAGENET1K_V2"}


def weights_file(arch: str, version: str) -> WeightsFile:
    """The file of `arch`'s ImageNet weights `version` (IMAGENET1K_V1, IMAGENET1K_V2 or DEFAULT);
    for any other torchvision model, from the model catalog (cvrepro.nets.catalog)."""
    resolved = DEFAULT.get(arch, "") if version == "DEFAULT" else version
    if (arch, resolved) in WEIGHTS:
        return WEIGHTS[(arch, resolved)]
    if arch in DEFAULT:
        raise ValueError(f"imagenet_weights: torchvision has no {version} weights for {arch!r}")
    try:
        entry = weights_entry(arch, version)
    except (ValueError, KeyError) as error:
        raise ValueError(f"imagenet_weights: {str(error).strip(chr(39))}") from None
    return WeightsFile(arch, resolve_weights(arch, version), entry["file"], entry["mib"])


def hub_checkpoints_dir(environ: dict[str, str] | None = None) -> Path:
    """Where torch.hub keeps downloaded weights: $TORCH_HOME/hub/checkpoints, with TORCH_HOME
    defaulting to $XDG_CACHE_HOME/torch or ~/.cache/torch (torch.hub.get_dir's rule)."""
    env = os.environ if environ is None else environ
    home = env.get("TORCH_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or "~/.cache", "torch")
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints"
