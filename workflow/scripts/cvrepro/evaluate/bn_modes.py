"""BatchNorm under distribution shift: eval-mode statistics vs test-batch statistics.

Three ways to normalise at test time, for every test batch size (S1 of the seed reports and
Schneider et al., 2020, "Improving robustness against common corruptions by covariate shift
adaptation"):

- ``eval``: the running statistics of the training set (the usual inference mode);
- ``train``: each test batch normalised with its own statistics (BN layers in train mode);
- ``adapt``: statistics re-estimated on each test batch of n images and mixed with the source
  ones, ``mu = N/(N+n) * mu_source + n/(N+n) * mu_batch`` (the variance likewise, from the
  batch's unbiased variance) with prior strength N: N = 0 is ``train``, large N approaches
  ``eval``. As in Schneider et al.'s code, the batch statistics of every layer are those of a
  train-mode pass (a BN layer with momentum n/(N+n)); a second pass normalises with the mixture.

A test batch of b images is a group of b consecutive images in the visiting order. Rather than
b-image forward passes, every BN layer here normalises each group of a large batch with that
group's own statistics (one var_mean per layer over a (groups, positions, channels) view of the
batch), which gives the same numbers as one forward per test batch in a fraction of the time.
Forward passes run in the job's precision (bf16 autocast where the hardware has it; BatchNorm
itself in float32). Eval mode does not depend on the batch, so it is computed once.
The model passed in is never modified: the passes run on a copy.
"""

from __future__ import annotations

import copy
import types

import torch
from torch import nn

from cvrepro.data.tensors import TensorSet, eval_batch
from cvrepro.nets.device import autocast, model_input

MODES = ("eval", "train", "adapt")
CHUNK_IMAGES = 2048  # images per forward pass (rounded down to whole groups): bounded memory


def _bn_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _as_rows(x: torch.Tensor, g: int) -> tuple[torch.Tensor, tuple]:
    """x as (groups, values per channel, channels) without copying when its channels are the
    innermost dimension (BatchNorm1d input, or channels_last images), and how to undo that."""
    if x.ndim == 2:
        return x.view(g, -1, x.shape[1]), ("2d", x.shape)
    if x.is_contiguous(memory_format=torch.channels_last):
        n, c, h, w = x.shape
        return x.permute(0, 2, 3, 1).reshape(g, -1, c), ("nhwc", (n, h, w, c))
    n, c = x.shape[:2]  # channels first: one copy into channels-last rows
    return x.reshape(n, c, -1).transpose(1, 2).reshape(g, -1, c), ("nchw", x.shape)


def _from_rows(rows: torch.Tensor, how: tuple) -> torch.Tensor:
    layout, shape = how
    if layout == "2d":
        return rows.reshape(shape)
    if layout == "nhwc":
        return rows.reshape(shape).permute(0, 3, 1, 2)
    n, c = shape[:2]
    return rows.reshape(n, -1, c).transpose(1, 2).reshape(shape)


def _grouped_forward(layer: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm of each group of `layer.group` consecutive images with its own statistics (train
    mode: biased variance); with `layer.record`, those statistics are kept as PyTorch's train mode
    would update running ones (mean, unbiased variance); in adapt's second pass, each group is
    normalised with N/(N+n) source + n/(N+n) its recorded statistics."""
    g = x.shape[0] // layer.group
    rows, how = _as_rows(x, g)
    rows = rows.float()
    if layer.recorded is None:
        var, mean = torch.var_mean(rows, dim=1, correction=0)  # (groups, channels)
        if layer.record:
            count = rows.shape[1]
            layer.recorded = (mean, var * count / max(count - 1, 1))
    else:
        w = layer.source_weight
        mean = w * layer.running_mean + (1 - w) * layer.recorded[0]
        var = w * layer.running_var + (1 - w) * layer.recorded[1]
    scale = torch.rsqrt(var + layer.eps)
    if layer.affine:
        scale = scale * layer.weight
    shift = (layer.bias if layer.affine else 0) - mean * scale
    return _from_rows(torch.addcmul(shift[:, None, :], rows, scale[:, None, :]), how)


def _grouped_copy(model: nn.Module) -> tuple[nn.Module, list[nn.modules.batchnorm._BatchNorm]]:
    """A copy of the model whose BN layers normalise by groups (see _grouped_forward)."""
    net = copy.deepcopy(model).eval()
    layers = _bn_layers(net)
    for layer in layers:
        layer.forward = types.MethodType(_grouped_forward, layer)
    return net, layers


@torch.no_grad()
def grouped_logits(
    model: nn.Module,
    x: torch.Tensor,
    modes: list[str],
    group: int,
    prior: float,
    grouped: tuple[nn.Module, list] | None = None,
) -> dict[str, torch.Tensor]:
    """The model's outputs on x with BatchNorm in each of `modes` ("train", "adapt"), one test
    batch per `group` consecutive images (len(x) a multiple of `group`). Adapt's first pass is
    train mode's pass, so both cost two passes. `model` is left as it was; `grouped`: its
    grouped copy (_grouped_copy), made once by a caller that makes many passes."""
    net, layers = grouped or _grouped_copy(model)
    for layer in layers:
        layer.group, layer.recorded, layer.record = group, None, "adapt" in modes
        layer.source_weight = prior / (prior + group)
    x = model_input(x, net)
    outputs = {}
    with autocast(x.device):
        outputs["train"] = net(x).float()  # each group's own statistics (recorded for adapt)
        if "adapt" in modes:
            for layer in layers:
                layer.record = False
            outputs["adapt"] = net(x).float()
    return {mode: outputs[mode] for mode in modes}


def _pieces(order: torch.Tensor, batch_size: int) -> list[tuple[torch.Tensor, int]]:
    """The visiting order in chunks of whole test batches (bounded memory), then the last,
    smaller batch; a last batch of one image has no batch statistics and is left out."""
    whole = len(order) - len(order) % batch_size
    chunk = max(batch_size, CHUNK_IMAGES // batch_size * batch_size)
    pieces = [(order[s : min(s + chunk, whole)], batch_size) for s in range(0, whole, chunk)]
    if len(order) - whole > 1:
        pieces.append((order[whole:], len(order) - whole))
    return pieces


@torch.no_grad()
def accuracies(
    model: nn.Module,
    data: TensorSet,
    modes: list[str],
    batch_size: int,
    mean: list[float],
    std: list[float],
    order: torch.Tensor,
    prior: float,
    grouped: tuple[nn.Module, list] | None = None,
) -> dict[str, float]:
    """Top-1 accuracy on `data` with BatchNorm in each of `modes`, test batches of `batch_size`
    images taken in `order` (`grouped`: as grouped_logits takes it)."""
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown:
        raise ValueError(f"unknown BN mode {unknown[0]!r}; choose from {list(MODES)}")
    found = {}
    if "eval" in modes:
        net = copy.deepcopy(model).eval()
        with autocast(data.images.device):
            logits = [
                net(model_input(eval_batch(data.images[i], mean, std), net))
                for i in order.split(CHUNK_IMAGES)
            ]
        found["eval"] = int((torch.cat(logits).argmax(1) == data.labels[order]).sum()) / max(len(order), 1)
    batch_modes = [mode for mode in modes if mode != "eval"]
    if batch_modes:
        correct, counted = dict.fromkeys(batch_modes, 0), 0
        grouped = grouped or _grouped_copy(model)
        for index, group in _pieces(order, batch_size):
            x = eval_batch(data.images[index], mean, std)
            for mode, logits in grouped_logits(model, x, batch_modes, group, prior, grouped).items():
                correct[mode] += int((logits.argmax(1) == data.labels[index]).sum())
            counted += len(index)
        found.update({mode: correct[mode] / max(counted, 1) for mode in batch_modes})
    return {mode: found[mode] for mode in modes}


def bn_sweep(
    model: nn.Module, data: TensorSet, mean: list[float], std: list[float], sweep: dict
) -> list[dict]:
    """Accuracy for every (mode, batch size, order) of the study's `sweep` (its keys batch_sizes,
    modes, orders, prior, seed); `class_sorted` order makes batches of one class. Eval mode
    normalises each image alone, so it is computed once per order: the batch size cannot matter."""
    generator = torch.Generator().manual_seed(sweep["seed"])
    order_index = {
        "shuffled": torch.randperm(len(data), generator=generator).to(data.images.device),
        "class_sorted": torch.argsort(data.labels.cpu(), stable=True).to(data.images.device),
    }
    rows, whole_set, grouped = [], {}, _grouped_copy(model)  # one copy for every pass
    for order in sweep["orders"]:
        by_size = {}
        for k, batch_size in enumerate(sweep["batch_sizes"]):
            modes = [m for m in sweep["modes"] if m != "eval" or k == 0]
            batch_modes = [m for m in modes if m != "eval"]
            if batch_size >= len(data) and whole_set and "eval" not in modes:
                # One test batch of every image: its statistics, and so every prediction, are the
                # same whatever the order and however much larger the batch size.
                by_size[batch_size] = {m: whole_set[m] for m in batch_modes}
                continue
            by_size[batch_size] = accuracies(
                model, data, modes, batch_size, mean, std, order_index[order], sweep["prior"], grouped
            )
            if batch_size >= len(data):
                whole_set = {m: by_size[batch_size][m] for m in batch_modes}
        eval_acc = by_size[sweep["batch_sizes"][0]].get("eval")
        for mode in sweep["modes"]:
            for batch_size in sweep["batch_sizes"]:
                acc = eval_acc if mode == "eval" else by_size[batch_size][mode]
                rows.append({"mode": mode, "batch_size": batch_size, "order": order, "accuracy": acc})
    return rows
