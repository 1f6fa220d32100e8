"""Where a job computes: the device, its threads and precision, and the tensor layout it wants."""

from __future__ import annotations

import torch

from cvrepro.nets.precision import set_precision

DEVICES = ("auto", "cuda", "cpu")


def resolve_device(name: str) -> torch.device:
    if name not in DEVICES:
        raise ValueError(f"unknown device {name!r}; choose from {list(DEVICES)}")
    if name == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if name == "cuda":
        raise RuntimeError("device: cuda was requested but no CUDA GPU is visible to this job")
    return torch.device("cpu")


def job_device(device: str, precision: str, threads: int) -> torch.device:
    """A job's compute set-up, the same for every script: CPU threads, precision policy, device."""
    torch.set_num_threads(threads)
    set_precision(precision)
    return resolve_device(device)


def prepare_device(device: torch.device) -> None:
    """Let cuDNN pick the fastest convolution algorithms for our fixed batch shapes (autotuned on
    the first batch of each shape) and let float32 matmuls outside autocast use TF32. CPU: nothing,
    so CPU results stay bit-for-bit reproducible."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


# On the CPU, channels_last only for networks whose convolutions all have this many channels.
CPU_CHANNELS_LAST_MIN_WIDTH = 16


def memory_format(
    device: torch.device, side: int | None = None, narrowest: int | None = None
) -> torch.memory_format:
    """channels_last on CUDA (tensor cores want it). On the CPU only for images under 64 px and
    networks whose convolutions all have at least 16 output channels (`narrowest`): there it
    measured 1.3-1.5x faster for width-16 ResNet-18 at 28-32 px on both 2-core build machines,
    while torch 2.14's oneDNN kernels crashed (segfault, bus error, double free) in channels_last
    training of narrower networks: at 64-96 px on the AVX512 machine, and at 28 px too (width 4,
    fp32) on the AVX2 one (benchmarks/repro_onednn_crash.py). `side`: the input's height/width."""
    if device.type == "cuda":
        return torch.channels_last
    if side is None or side >= 64 or (narrowest is not None and narrowest < CPU_CHANNELS_LAST_MIN_WIDTH):
        return torch.contiguous_format
    return torch.channels_last


def conv_width(model: torch.nn.Module) -> int | None:
    """The fewest output channels of any 2-d convolution of the model (None: it has none)."""
    widths = [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    return min(widths) if widths else None


def place_model(model: torch.nn.Module, device: torch.device, side: int) -> torch.nn.Module:
    """The model on `device` in the memory format it runs in there (memory_format); `side`: the
    images' height/width as the model sees them."""
    return model.to(device, memory_format=memory_format(device, side, conv_width(model)))


def model_input(x: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
    """A batch in the memory format of `model`'s convolutions, as place_model left them."""
    weight = next((p for p in model.parameters() if p.ndim == 4 and p.shape[1] > 1), None)
    channels_last = (
        weight is not None
        and weight.is_contiguous(memory_format=torch.channels_last)
        and not weight.is_contiguous()
    )
    return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
