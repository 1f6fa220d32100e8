"""Where and how a job computes: the device and its threads, the precision policy, the tensor
layout the network wants, and the opt-in torch.compile of the training step.

Precision. The config key `precision` (auto | bf16 | fp32) picks the policy for a whole job;
scripts set it once through job_device, as torch's own global switches
(`torch.set_float32_matmul_precision`) are set. `auto` means bf16 on CUDA and on CPUs with native
bf16 instructions (AVX512-BF16 or AMX), where it measured 1.3-2.4x faster training of ResNet-18
on the 2-core build machine, and float32 on other CPUs, where bf16 is emulated and slower.
bf16 keeps float32's exponent range, so no loss scaling is needed; weights, optimizer state,
losses and BatchNorm statistics stay float32 (autocast only lowers convolutions and matmuls).

Compiling is off unless the environment asks for it (CVREPRO_COMPILE): inductor needs Triton on
CUDA and a C++ compiler on the CPU, costs tens of seconds per graph, and pays only on long GPU
runs -- the default study's 1,000-image runs on a CPU would get slower, and CI would spend its time
compiling. Values:

    CVREPRO_COMPILE=0 (or unset)    eager
    CVREPRO_COMPILE=1               inductor, default mode
    CVREPRO_COMPILE=<mode>          inductor with mode reduce-overhead / max-autotune / ...
    CVREPRO_COMPILE=eager|aot_eager dynamo's debugging backends (fast to compile; tests use them)

Only a function of the model is compiled, never the module itself, so state dicts keep their
keys (no `_orig_mod.` prefix) and checkpoints and resume states stay interchangeable.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable

import torch

from cvrepro.nets.cpu_flags import cpu_has_native_bf16

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


# --- precision: bf16 autocast where the hardware computes bf16 natively ---------------------------


PRECISIONS = ("auto", "bf16", "fp32")

_policy = "auto"
# Read once per process (the CPU does not change under a job), not at every forward pass.
_CPU_BF16 = cpu_has_native_bf16()


def set_precision(name: str) -> None:
    global _policy
    if name not in PRECISIONS:
        raise ValueError(f"precision {name!r} is not known; choose from {list(PRECISIONS)}")
    _policy = name


def uses_bf16(device: torch.device) -> bool:
    if _policy != "auto":
        return _policy == "bf16"
    return device.type == "cuda" or (device.type == "cpu" and _CPU_BF16)


def autocast(device: torch.device):
    """The context the forward passes run in: bf16 autocast or nothing (float32)."""
    if uses_bf16(device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def precision_name(device: torch.device) -> str:
    """What the policy means on `device`, for provenance: 'bf16 autocast' or 'fp32'."""
    return "bf16 autocast" if uses_bf16(device) else "fp32"


# --- compiling the training step (opt-in) ---------------------------------------------------------


ENV = "CVREPRO_COMPILE"
MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
DEBUG_BACKENDS = ("eager", "aot_eager")
OFF = ("", "0", "false", "no", "off")


def compile_setting(value: str | None = None) -> tuple[str, str | None] | None:
    """(backend, mode) asked for by `value` (default: the environment), or None for eager."""
    raw = (os.environ.get(ENV, "") if value is None else value).strip().lower()
    if raw in OFF:
        return None
    if raw in ("1", "true", "yes", "on", "inductor"):
        return "inductor", None
    if raw in MODES:
        return "inductor", raw
    if raw in DEBUG_BACKENDS:
        return raw, None
    raise ValueError(
        f"{ENV}={raw!r} is not understood; use 0, 1, one of {list(MODES)} or one of {list(DEBUG_BACKENDS)}"
    )


class CompiledOrEager:
    """Calls `fn` through torch.compile; the first failure (no Triton, no C++ compiler, a torch or
    Python version that dynamo does not support, an operator inductor cannot lower) is reported
    once as a warning and the rest of the run uses `fn` itself, so a run never dies of compiling.

    Compile errors surface on the first call (tracing and the forward graph are compiled then);
    the wrapper catches those. A genuine error in `fn` raises again from the eager retry.
    """

    def __init__(self, fn: Callable, backend: str | Callable = "inductor", mode: str | None = None) -> None:
        self.eager = fn
        self.compiled: Callable | None = None
        self.error: str | None = None
        try:
            # dynamic=False: the last, smaller batch of an epoch gets its own static graph instead
            # of turning every graph into a slower dynamic-shape one.
            self.compiled = torch.compile(fn, backend=backend, mode=mode, dynamic=False)
        except Exception as error:  # noqa: BLE001 -- any failure to set up compiling means eager
            self._give_up(error)

    def _give_up(self, error: Exception) -> None:
        self.compiled = None
        self.error = f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
        warnings.warn(f"torch.compile unavailable, running eagerly ({self.error})", stacklevel=3)

    def __call__(self, *args, **kwargs):
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 -- see the class docstring
                self._give_up(error)
        return self.eager(*args, **kwargs)


def maybe_compile(fn: Callable, setting: tuple[str, str | None] | None) -> Callable:
    """`fn` wrapped for compiling when `setting` (from compile_setting) asks for it, else `fn`."""
    if setting is None:
        return fn
    backend, mode = setting
    return CompiledOrEager(fn, backend=backend, mode=mode)
