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
group's own statistics (`GroupedBatchNorm`), which gives the same numbers as one forward per test
batch in a fraction of the time. Eval mode does not depend on the batch, so it is computed once.
The model passed in is never modified: the passes run on a copy.
"""

from __future__ import annotations

import copy
import types

import torch
from torch import nn

from cvrepro.data import TensorSet, eval_batch

MODES = ("eval", "train", "adapt")
CHUNK_IMAGES = 2048  # images per forward pass (rounded down to whole groups): bounded memory


def _bn_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _grouped_forward(layer: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm of each group of `layer.group` consecutive images with its own statistics
    (`adapt`: mixed with the running ones by `layer.source_weight`, or taken from `layer.recorded`)."""
    group = layer.group
    xs = x.reshape(x.shape[0] // group, group, *x.shape[1:])
    dims = (1, *range(3, xs.ndim))  # over the group's images and positions, per channel
    shape = (xs.shape[0], 1, xs.shape[2]) + (1,) * (xs.ndim - 3)
    if layer.recorded is None:
        mean, var = xs.mean(dim=dims), xs.var(dim=dims, unbiased=False)
        if layer.record:
            count = xs.numel() / (xs.shape[0] * xs.shape[2])
            layer.recorded = (mean, var * count / max(count - 1, 1))  # unbiased, as running_var is updated
    else:  # adapt's second pass: N/(N+n) source + n/(N+n) batch
        w = layer.source_weight
        mean = w * layer.running_mean + (1 - w) * layer.recorded[0]
        var = w * layer.running_var + (1 - w) * layer.recorded[1]
    y = (xs - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + layer.eps)
    if layer.affine:
        y = y * layer.weight.reshape(shape[1:]) + layer.bias.reshape(shape[1:])
    return y.reshape(x.shape)


def _grouped_copy(model: nn.Module) -> tuple[nn.Module, list[nn.modules.batchnorm._BatchNorm]]:
    """A copy of the model whose BN layers normalise by groups (see _grouped_forward)."""
    net = copy.deepcopy(model).eval()
    layers = _bn_layers(net)
    for layer in layers:
        layer.forward = types.MethodType(_grouped_forward, layer)
    return net, layers


@torch.no_grad()
def grouped_logits(model: nn.Module, x: torch.Tensor, mode: str, group: int, prior: float) -> torch.Tensor:
    """The model's outputs on x with BatchNorm in `mode` ("train" or "adapt"), one test batch per
    `group` consecutive images (len(x) a multiple of `group`); `model` is left as it was."""
    net, layers = _grouped_copy(model)
    for layer in layers:
        layer.group, layer.recorded, layer.record = group, None, mode == "adapt"
        layer.source_weight = prior / (prior + group)
    if mode == "adapt":
        net(x)  # records each layer's batch statistics from a train-mode pass
        for layer in layers:
            layer.record = False
    return net(x)


@torch.no_grad()
def accuracy_with_bn_mode(
    model: nn.Module,
    data: TensorSet,
    mode: str,
    batch_size: int,
    mean: list[float],
    std: list[float],
    order: torch.Tensor,
    prior: float,
) -> float:
    """Top-1 accuracy on `data` with BatchNorm in `mode`, test batches of `batch_size` images
    taken in `order`. A last batch of a single image has no batch statistics and is left out
    in train and adapt modes (PyTorch would raise)."""
    if mode not in MODES:
        raise ValueError(f"unknown BN mode {mode!r}; choose from {list(MODES)}")
    if mode == "eval":
        net = copy.deepcopy(model).eval()
        logits = torch.cat([net(eval_batch(data.images[i], mean, std)) for i in order.split(CHUNK_IMAGES)])
        return int((logits.argmax(1) == data.labels[order]).sum()) / max(len(order), 1)
    whole = len(order) - len(order) % batch_size
    chunk = max(batch_size, CHUNK_IMAGES // batch_size * batch_size)
    correct = counted = 0
    pieces = [(order[s : min(s + chunk, whole)], batch_size) for s in range(0, whole, chunk)]
    if len(order) - whole > 1:  # the last, smaller batch
        pieces.append((order[whole:], len(order) - whole))
    for index, group in pieces:
        x = eval_batch(data.images[index], mean, std)
        correct += int((grouped_logits(model, x, mode, group, prior).argmax(1) == data.labels[index]).sum())
        counted += len(index)
    return correct / max(counted, 1)


def bn_sweep(
    model: nn.Module, data: TensorSet, mean: list[float], std: list[float], sweep: dict
) -> list[dict]:
    """Accuracy for every (mode, batch size, order) of the study's `sweep` (its keys batch_sizes,
    modes, orders, prior, seed); `class_sorted` order makes batches of one class."""
    generator = torch.Generator().manual_seed(sweep["seed"])
    order_index = {
        "shuffled": torch.randperm(len(data), generator=generator).to(data.images.device),
        "class_sorted": torch.argsort(data.labels.cpu(), stable=True).to(data.images.device),
    }
    rows = []
    for order in sweep["orders"]:
        for mode in sweep["modes"]:
            eval_acc = None
            for batch_size in sweep["batch_sizes"]:
                if mode == "eval" and eval_acc is not None:
                    acc = eval_acc  # eval mode normalises each image alone: the batch size cannot matter
                else:
                    acc = accuracy_with_bn_mode(
                        model, data, mode, batch_size, mean, std, order_index[order], sweep["prior"]
                    )
                    eval_acc = acc if mode == "eval" else None
                rows.append({"mode": mode, "batch_size": batch_size, "order": order, "accuracy": acc})
    return rows
