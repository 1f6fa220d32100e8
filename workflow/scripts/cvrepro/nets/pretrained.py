"""ImageNet weights from torchvision's cache, checked against the hash in their file name before loading.

torchvision names each weights file after the first hex digits of its sha256
(resnet18-f37072fd.pth). The file lives in $TORCH_HOME/hub/checkpoints/ (torch.hub.get_dir()),
so a cluster can pre-seed the cache. Before torch.load ever sees it, the file's sha256 must
start with that prefix; a missing file is downloaded by torch with the same check. Loading
is always `weights_only=True`: tensors and plain containers, never arbitrary pickled objects.

CVREPRO_TRUST_WEIGHTS_CACHE=<reason>: load a cached file whose hash does not match its name
(still weights_only=True, with a warning quoting the reason). For tests, which must write
random weights under torchvision's fixed file names; a real cache never needs it.

A rehearsal never downloads: `random_dir` holds randomly initialised weights of the same
architecture, written once in torchvision's format under torchvision's file name, and loaded
through the same path (torch.load(weights_only=True), the same checks of the state dict).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

import torch
import torch.hub

from cvrepro.nets.catalog import resolve_weights

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
TRUST_CACHE = "CVREPRO_TRUST_WEIGHTS_CACHE"


def imagenet_weights(arch: str, version: str):
    """torchvision's weights enum entry of `arch` named `version` (the study's `imagenet_weights`:
    IMAGENET1K_V1, IMAGENET1K_V2 or DEFAULT, torchvision's current best)."""
    from torchvision.models import get_model_weights  # 1.5 s: only for jobs that use the weights

    try:
        return get_model_weights(arch)[resolve_weights(arch, version)]
    except ValueError as error:
        raise ValueError(f"imagenet_weights: {error}") from None


def imagenet_state_dict(
    arch: str, version: str, in_channels: int = 3, random_dir: Path | None = None
) -> dict[str, torch.Tensor]:
    """The ImageNet state dict `version` of cvrepro's `arch`; for 1-channel inputs conv1 is summed
    over RGB. With `random_dir` (a rehearsal), random weights of `arch` from that directory instead."""
    return _load_state_dict(weights_path(arch, version, random_dir), in_channels)


def torchvision_state_dict(
    arch: str, version: str, in_channels: int, random_dir: Path | None, grey: str
) -> dict[str, torch.Tensor]:
    """The same for any other torchvision model (cvrepro.nets.torchvision_nets): the file checked
    as above, then loaded through torchvision's weights API, keyed for its TorchvisionNet (the
    classifier left out), grey input as `grey` says (sum or repeat)."""
    from cvrepro.nets.torchvision_nets import imagenet_state

    path = weights_path(arch, version, random_dir)
    return imagenet_state(arch, version, in_channels, grey, path.parent)


def weights_path(arch: str, version: str, random_dir: Path | None = None) -> Path:
    """The weights file, hash-checked (downloaded if absent), or a rehearsal's random stand-in."""
    url = imagenet_weights(arch, version).url
    if random_dir is not None:
        path = _random_weights(arch, Path(random_dir) / url.rsplit("/", 1)[-1])
        print(f"rehearsal: random {arch} weights from {path}, not ImageNet's", file=sys.stderr)
        return path
    path = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    prefix = _hash_prefix(path)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # torch downloads to a temporary file and checks the hash before moving it into place
            torch.hub.download_url_to_file(url, str(path), hash_prefix=prefix, progress=False)
        except (OSError, RuntimeError) as error:  # URLError is an OSError; a hash mismatch a RuntimeError
            reason = " ".join(str(error).split())
            raise RuntimeError(
                f"init: imagenet: could not fetch {url} ({reason}); place the file in "
                f"$TORCH_HOME/hub/checkpoints/ (default ~/.cache/torch/hub/checkpoints/)"
            ) from None
    _check_hash(path, prefix)
    return path


def _load_state_dict(path: Path, in_channels: int) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # UnpicklingError for anything but tensors, RuntimeError for a bad zip
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise RuntimeError(f"{path}: refused by torch.load(weights_only=True): {first}") from None
    if not isinstance(state, dict) or "conv1.weight" not in state:
        raise RuntimeError(f"{path}: expected a state dict with conv1.weight, got {type(state).__name__}")
    if in_channels == 1:
        state["conv1.weight"] = state["conv1.weight"].sum(dim=1, keepdim=True)
    return state


def _random_weights(arch: str, path: Path) -> Path:
    """torchvision's `arch` with its default random initialisation (seed 0), saved as its weights
    file would be; written once, atomically, so jobs running at once agree on it."""
    if path.is_file():
        return path
    from torchvision import models  # the architecture exactly as torchvision builds it

    with torch.random.fork_rng(devices=[]):  # the job's own random stream stays untouched
        torch.manual_seed(0)
        state = models.get_model(arch).state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        torch.save(state, tmp)
    os.replace(tmp.name, path)
    return path


def _hash_prefix(path: Path) -> str:
    match = torch.hub.HASH_REGEX.search(path.name)
    if not match or not match.group(1):
        raise RuntimeError(f"{path.name}: torchvision's file name has no hash to check the weights against")
    return match.group(1)


def _check_hash(path: Path, prefix: str) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    actual = digest.hexdigest()
    if actual.startswith(prefix):
        return
    reason = os.environ.get(TRUST_CACHE, "").strip()
    if reason:
        print(
            f"warning: {path}: sha256 {actual[:8]} does not match the name's {prefix}; not verified, "
            f"loaded as plain tensors because {TRUST_CACHE}={reason!r}",
            file=sys.stderr,
        )
        return
    raise RuntimeError(
        f"{path}: sha256 starts {actual[: len(prefix)]}, not {prefix} as torchvision's file name says: "
        "the file is damaged or not torchvision's weights; delete it to download it again"
    )
