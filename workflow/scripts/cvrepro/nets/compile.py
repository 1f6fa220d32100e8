"""torch.compile for the training step, opt-in, with a clean fall-back to eager mode.

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

import os
import warnings
from collections.abc import Callable

import torch

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
