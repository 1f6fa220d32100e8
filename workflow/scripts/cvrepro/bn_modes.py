"""BatchNorm under distribution shift: eval-mode statistics vs test-batch statistics.

Three ways to normalise at test time, for every test batch size (S1 of the seed reports and
Schneider et al., 2020, "Improving robustness against common corruptions by covariate shift
adaptation"):

- ``eval``: the running statistics of the training set (the usual inference mode);
- ``train``: each test batch normalised with its own statistics (BN layers in train mode);
- ``adapt``: statistics re-estimated on each test batch of n images and mixed with the source
  ones, ``mu = N/(N+n) * mu_source + n/(N+n) * mu_batch`` with prior strength N (Schneider et
  al.): N = 0 is ``train``, large N approaches ``eval``.

Every evaluation works on a deep copy of the model, so running statistics never leak from one
evaluation into the next and the model passed in (and its checkpoint) is unchanged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from cvrepro.data import TensorSet, eval_batch

MODES = ("eval", "train", "adapt")


def _bn_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _batches(data: TensorSet, batch_size: int, order: torch.Tensor):
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        yield data.images[index], data.labels[index]


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
    """Top-1 accuracy on `data` with BatchNorm in `mode`, visiting images in `order`."""
    if mode not in MODES:
        raise ValueError(f"unknown BN mode {mode!r}; choose from {list(MODES)}")
    net = copy.deepcopy(model).eval()
    layers = _bn_layers(net)
    source = [(layer.running_mean.clone(), layer.running_var.clone()) for layer in layers]
    correct = counted = 0
    for images, labels in _batches(data, batch_size, order):
        x = eval_batch(images, mean, std)
        if mode != "eval" and len(labels) == 1:
            continue  # one image has no batch statistics (PyTorch raises in train mode)
        if mode == "train":
            for layer in layers:
                layer.train()
                layer.momentum = 0.0  # normalise with the batch's statistics; running ones untouched
        elif mode == "adapt":
            # One train-mode pass with momentum n/(N+n) turns the source statistics into
            # N/(N+n) * source + n/(N+n) * batch; the eval pass below then uses them.
            for layer, (mu, var) in zip(layers, source, strict=True):
                layer.running_mean.copy_(mu)
                layer.running_var.copy_(var)
                layer.train()
                layer.momentum = len(labels) / (prior + len(labels))
            net(x)
            for layer in layers:
                layer.eval()
        correct += (net(x).argmax(1) == labels).sum().item()
        counted += len(labels)
    return correct / max(counted, 1)


def bn_sweep(model: nn.Module, data: TensorSet, mean: list[float], std: list[float], sweep: dict) -> list[dict]:
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
            for batch_size in sweep["batch_sizes"]:
                acc = accuracy_with_bn_mode(
                    model, data, mode, batch_size, mean, std, order_index[order], sweep["prior"]
                )
                rows.append({"mode": mode, "batch_size": batch_size, "order": order, "accuracy": acc})
    return rows
