"""No host waits inside a training step: the operations that make the host wait for the GPU
(reading a value: item, tolist, bool/int/float of a tensor; data-dependent shapes: nonzero,
boolean-mask indexing, masked_select, unique; tensors built from Python values or host memory:
torch.tensor, as_tensor, numpy; device moves) are counted, on the CPU, inside one supervised, one
SimCLR and one triplet step, and none may appear. The counter itself is shown to catch a planted
.item(). On a GPU the same steps also run under torch.cuda.set_sync_debug_mode("error")."""

from __future__ import annotations

import pytest
import torch
from torch.overrides import TorchFunctionMode

import cvrepro.train.supervised as supervised_module
from cvrepro.data.tensors import channel_stats
from cvrepro.jobs.recipes import pretraining_recipe, run_recipe
from cvrepro.nets.device import set_precision
from cvrepro.nets.heads import ProjectionHead
from cvrepro.nets.models import build_model
from cvrepro.train.methods import METHODS
from cvrepro.train.pretraining import PretrainNet
from cvrepro.train.supervised import supervised

Tensor = torch.Tensor
# Functions that read a tensor on the host, make a shape from its values, or build a tensor from
# host values: each makes the host wait for the GPU (or copies from pageable memory, which does).
WAITS = {
    Tensor.item,
    Tensor.tolist,
    Tensor.__bool__,
    Tensor.__int__,
    Tensor.__float__,
    Tensor.__index__,
    Tensor.numpy,
    Tensor.nonzero,
    torch.nonzero,
    torch.argwhere,
    Tensor.masked_select,
    torch.masked_select,
    torch.unique,
    Tensor.unique,
    torch.tensor,
    torch.as_tensor,
    torch.asarray,
}
MOVES = {Tensor.to, Tensor.cuda, Tensor.cpu}


class HostWaits(TorchFunctionMode):
    """Records every operation of WAITS, boolean-mask indexing and device moves run inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in WAITS:
            self.found.append(func.__name__)
        elif func is Tensor.__getitem__ and _has_mask(args[1]):
            self.found.append("boolean-mask indexing")
        elif func in MOVES and _moves(func, args, kwargs):
            self.found.append(f"{func.__name__} to another device")
        return func(*args, **kwargs)


def _has_mask(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, Tensor) and i.dtype == torch.bool for i in items)


def _moves(func, args, kwargs) -> bool:
    """A .to/.cuda/.cpu that names a device (inside a step the data is already where it computes;
    a CPU test cannot see which moves would cross, so any named device counts)."""
    if func is not Tensor.to:
        return True
    named = [*args[1:], kwargs.get("device")]
    return any(isinstance(a, (torch.device, str, Tensor)) for a in named)


def images(n: int = 24, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour images (so colour jitter, hue and greyscale run) and labels of 3 classes."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 16, 16), generator=g, dtype=torch.uint8), torch.arange(n) % 3


ARCH = {"arch": "resnet18", "stem": "cifar", "width": 4, "head": {"kind": "linear", "dropout": 0.0}}


CPU = torch.device("cpu")


def network(device: torch.device = CPU) -> torch.nn.Module:
    return build_model({**ARCH, "in_channels": 3, "num_classes": 3, "image_size": 16}).to(device)


def supervised_step(loss: dict | None = None, device: torch.device = CPU):
    x, _ = images()
    run = run_recipe(augment="crop_flip", loss=loss or {"name": "ce"}, model=ARCH)
    return supervised(network(device), run, *channel_stats(x), 3, None).step


def simclr_step(device: torch.device = CPU):
    x, _ = images()
    spec = pretraining_recipe(
        method="simclr",
        model=ARCH,
        augment={"name": "simclr", "hue": 0.1, "blur_p": 0.5},
        projection={"hidden": 16, "dim": 8},
    )
    encoder = network()
    net = PretrainNet(encoder, ProjectionHead(encoder.num_features, 16, 8, True)).to(device)
    return METHODS["simclr"].build(net, spec, *channel_stats(x), None).step


def triplet_step(mining: str, device: torch.device = CPU):
    x, _ = images()
    spec = pretraining_recipe(method="triplet", model=ARCH, triplet={"mining": mining}, augment="flip")
    return METHODS["triplet"].build(PretrainNet(network(device), None), spec, *channel_stats(x)).step


# name -> (device -> the method's step): one supervised, one SimCLR and one triplet step, and the
# supervised losses' and triplet minings' variants.
STEPS = {
    "supervised ce": lambda device=CPU: supervised_step(None, device),
    "supervised ce_triplet": lambda device=CPU: supervised_step(
        {"name": "ce_triplet", "mining": "batch_hard"}, device
    ),
    "supervised ce_center": lambda device=CPU: supervised_step({"name": "ce_center", "weight": 0.1}, device),
    "simclr": simclr_step,
    **{
        f"triplet {mining}": (lambda device=CPU, m=mining: triplet_step(m, device))
        for mining in ("batch_all", "batch_hard", "semi_hard", "random")
    },
}


def waits_in_one_step(step, device: torch.device = CPU) -> list[str]:
    """The host waits of one step (after one warm-up step, which may make its constants once)."""
    x, y = (t.to(device) for t in images())
    generator = torch.Generator(device=device).manual_seed(0)
    step(x, y, generator)
    with HostWaits() as mode:
        loss, sums = step(x, y, generator)
        loss.backward()
    assert torch.isfinite(loss.detach()).all()
    return mode.found


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("name", list(STEPS))
def test_a_training_step_never_makes_the_host_wait(name, precision):
    set_precision(precision)
    torch.manual_seed(0)
    assert waits_in_one_step(STEPS[name]()) == []


def test_the_counter_catches_a_planted_item(monkeypatch):
    """The same supervised step with one .item() planted in its loss: the test above would fail."""
    real = supervised_module.combined_loss

    def with_item(*args, **kwargs):
        loss, parts = real(*args, **kwargs)
        loss.item()
        return loss, parts

    monkeypatch.setattr(supervised_module, "combined_loss", with_item)
    set_precision("fp32")
    assert waits_in_one_step(supervised_step()) == ["item"]


def test_the_counter_sees_each_kind_of_wait():
    x = torch.arange(6.0)
    with HostWaits() as mode:
        bool(x.any())
        x[x > 2]
        x.nonzero()
        torch.tensor([1.0, 2.0])
        x.to("cpu")
        x.to(torch.float64)  # a dtype change is no device move: not counted
        float(x.sum())
    assert mode.found == [
        "__bool__",
        "boolean-mask indexing",
        "nonzero",
        "tensor",
        "to to another device",
        "__float__",
    ]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible")
@pytest.mark.parametrize("name", list(STEPS))
def test_on_cuda_a_step_runs_under_sync_debug_mode_error(name):
    """CUDA's own check: any synchronising call inside the step raises."""
    set_precision("auto")
    torch.manual_seed(0)
    cuda = torch.device("cuda")
    step = STEPS[name](cuda)
    x, y = (t.to(cuda) for t in images())
    generator = torch.Generator(device=cuda).manual_seed(0)
    step(x, y, generator)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        loss, _ = step(x, y, generator)
        loss.backward()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.isfinite(loss.detach()).all()
