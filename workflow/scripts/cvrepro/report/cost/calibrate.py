"""The forecast's speeds: a short timed measurement of each distinct network of a study, as its
real run will train and evaluate it (README "Before a long run").

Runs once per study, in the rehearsal's report job, on the device and thread count the real
run's model jobs get. A training measurement builds the network from its recipe (model, loss,
augmentation, freezing, method: supervised, SimCLR with its projection head, triplet) and times
optimizer steps of its real `Method.step` (cvrepro.train) on random uint8 images of the prepared
size, at the real batch size; a forward measurement times eval-mode passes (cvrepro.nets.inference)
at the real evaluation batch size and input size. The first step of every shape is warm-up and
not timed (oneDNN and cuDNN choose their kernels then). Batches grow from 2 images (BatchNorm
needs two) by 4x while a step is predicted to fit LIMIT_SECONDS, up to the real batch; a real
batch larger than that is priced on the line through the last two sizes timed (a step's fixed
cost, e.g. Adam's update of a large dense layer, plus a cost per image). Every measurement says
the largest batch it timed.
"""

from __future__ import annotations

import copy
import statistics
import time
from functools import partial

import torch

from cvrepro.data.tensors import TensorSet
from cvrepro.nets.device import place_model
from cvrepro.nets.inference import predict
from cvrepro.nets.models import build_model, freeze, frozen_bn_mode, set_train_mode
from cvrepro.report.cost.forecast import sweep_key
from cvrepro.train.methods import pretrain_net, pretraining_method
from cvrepro.train.optim import make_optimizer
from cvrepro.train.supervised import supervised

TARGET_SECONDS = 0.25  # a step quicker than this is timed three times
LIMIT_SECONDS = 0.5  # batches grow while a step is predicted to take at most this
SMALLEST = 2  # images in the first (warm-up) step: BatchNorm needs two
MIN_SWEEP_IMAGES = 32  # a BN sweep's batch size is timed on at least this many images
MAX_SWEEP_BATCH = 64  # and only up to this size
BUDGET_SECONDS = 10.0  # all measurements of one study: past it, the rest are left unmeasured


def measurement_key(network: dict) -> str:
    """Networks that train and run alike share one measurement (replicates, grid points that
    change only the learning rate or a seed)."""
    recipe = network.get("recipe") or {}
    same = {k: recipe.get(k) for k in ("method", "batch_size", "augment", "loss", "freeze", "projection")}
    arch = {k: v for k, v in network["arch"].items() if k != "num_classes"}  # only the head's width
    return repr((arch, network["input"], network["kind"], network.get("eval_batch"), same))


def measure_networks(
    networks: dict[str, dict], device: torch.device, sweeps: dict[str, list[dict]] | None = None, log=print
) -> dict[str, dict]:
    """network name -> {"train": image passes/s, "train_batch", "forward": images/s,
    "forward_batch", "sweeps": {sweep_key: seconds per image}}: one measurement per distinct
    network (measurement_key); `sweeps`: network -> the BN sweeps it runs (batch_sizes, modes,
    prior). Networks left unmeasured when BUDGET_SECONDS ran out are absent."""
    started, done, found = time.perf_counter(), {}, {}
    for name, network in sorted(networks.items()):
        key = measurement_key(network)
        if key not in done:
            if time.perf_counter() - started > BUDGET_SECONDS:
                log(f"forecast: measurement budget spent; {name} unmeasured")
                continue
            torch.manual_seed(0)
            done[key] = {**measure(network, device), "sweeps": {}}
            log(f"forecast: {name}: {done[key]}")
        for sweep in (sweeps or {}).get(name, []):
            if sweep_key(sweep) not in done[key]["sweeps"]:
                done[key]["sweeps"][sweep_key(sweep)] = measure_sweep(network, sweep, device)
        found[name] = done[key]
    return found


def _sweep_pass(model, data, modes: list[str], batch_size: int, mean, std, order, prior, _: int) -> None:
    """One timed BN sweep pass (the last argument: the image count _seconds passes, unused)."""
    from cvrepro.evaluate.bn_modes import accuracies

    accuracies(model, data, modes, batch_size, mean, std, order, prior)


def measure_sweep(network: dict, sweep: dict, device: torch.device) -> float:
    """Seconds per image of one BN sweep pass (one condition, one order): every batch size in its
    batch-statistics modes (cvrepro.evaluate.bn_modes.accuracies, BatchNorm grouped by test batch),
    and eval mode once. Timed on whole test batches, at least MIN_SWEEP_IMAGES images, for batch
    sizes up to MAX_SWEEP_BATCH; a larger one costs what the largest of those did."""
    arch = network["arch"]
    model = place_model(build_model(arch), device, arch["image_size"]).eval()
    mean, std = [0.5] * arch["in_channels"], [0.25] * arch["in_channels"]
    total, per_image = 0.0, None
    for batch_size in sweep["batch_sizes"]:
        modes = [mode for mode in sweep["modes"] if mode != "eval"]
        if not modes:
            break
        if batch_size > MAX_SWEEP_BATCH and per_image is not None:
            total += per_image  # larger test batches cost about as much per image, a little less
            continue
        n = batch_size * -(-MIN_SWEEP_IMAGES // batch_size)
        data = _images(arch, n, device)
        order = torch.arange(n, device=device)

        run = partial(_sweep_pass, model, data, modes, batch_size, mean, std, order, sweep["prior"])
        _seconds(run, n, device)  # warm-up
        per_image = _seconds(run, n, device) / n
        total += per_image
    if "eval" in sweep["modes"]:
        total += (
            1 / _timed(lambda b: predict(model, _images(arch, b, device), b, mean, std, None), 512, device)[0]
        )
    return total


def measure(network: dict, device: torch.device) -> dict:
    """The network's forward rate at its evaluation batch and, unless it only runs forward, its
    training rate at its real batch (views per image counted: SimCLR's two)."""
    arch, recipe = network["arch"], network.get("recipe")
    model = place_model(build_model(arch), device, arch["image_size"]).eval()
    mean, std = [0.5] * arch["in_channels"], [0.25] * arch["in_channels"]
    size = network["input"] if network["input"] != arch["image_size"] else None

    def forward(b: int) -> None:
        predict(model, _images(arch, b, device), b, mean, std, size)

    forward_rate, forward_batch = _timed(forward, network["eval_batch"], device)
    result = {"forward": forward_rate, "forward_batch": forward_batch}
    if network["kind"] != "forward":
        _, step, views = _trainer(network, device)
        rate, batch = _timed(
            lambda b: step(_images(arch, b, device)), recipe["batch_size"], device, 1 / forward_rate
        )
        result.update(train=rate * views, train_batch=batch)
    return result


def _trainer(network: dict, device: torch.device):
    """(model, step(data) -> None, views per image) for the network's training recipe."""
    arch, recipe = network["arch"], copy.deepcopy(network["recipe"])
    mean, std = [0.5] * arch["in_channels"], [0.25] * arch["in_channels"]
    model = build_model(arch)
    if network["kind"] == "supervised":
        freeze(model, recipe["freeze"]["children"], recipe["freeze"]["stages"])
        net = place_model(model, device, arch["image_size"])
        method = supervised(net, recipe, mean, std, arch["num_classes"], None)
    else:
        recipe["probe"] = "refit" if recipe.get("probe") == "online" else recipe.get("probe")
        net = place_model(pretrain_net(model, recipe), device, arch["image_size"])
        method = pretraining_method(net, recipe, mean, std, None)
    optimizer = make_optimizer([p for p in net.parameters() if p.requires_grad], recipe["optimizer"])
    generator = torch.Generator(device=device).manual_seed(0)
    bn = frozen_bn_mode(recipe)

    def step(data: TensorSet) -> None:
        set_train_mode(net, bn)
        loss, _ = method.step(data.images, data.labels, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return net, step, method.views


def _images(arch: dict, n: int, device: torch.device) -> TensorSet:
    """n random uint8 images of the prepared size, with labels of every class in turn."""
    side, channels = arch["image_size"], arch["in_channels"]
    images = torch.randint(0, 256, (n, channels, side, side), dtype=torch.uint8, device=device)
    labels = torch.arange(n, device=device) % max(2, arch["num_classes"])
    return TensorSet(images, labels, [str(c) for c in range(arch["num_classes"])])


def _timed(run, batch: int, device: torch.device, floor_s: float = 0.0) -> tuple[float, int]:
    """(images/s at `batch`, largest batch timed) of run(batch). Batches grow 4x from SMALLEST
    images, each size warmed up once and then timed, while a step of the next size, as the line
    through the last two sizes predicts it (a step's fixed cost plus a cost per image), would fit
    LIMIT_SECONDS. A real batch larger than the last one timed is priced on that line, its cost
    per image at least `floor_s` (a forward pass's, for a training step: timing noise cannot make
    it cheaper)."""
    timed: list[tuple[int, float]] = []
    size = min(batch, SMALLEST)
    while True:
        warm = _seconds(run, size, device)  # warm-up: this shape's kernels are chosen now
        if timed and warm > LIMIT_SECONDS:  # a slow step: this size's set-up is small beside it
            timed.append((size, warm))  # (not the very first step: it also builds the optimizer's state)
            break
        timed.append((size, _seconds(run, size, device)))
        if size == batch:
            break
        grown = min(batch, size * 4)
        if timed[-1][1] + (grown - size) * _per_image(timed, floor_s) > LIMIT_SECONDS:
            break
        size = grown
    if size == batch:
        if timed[-1][1] < TARGET_SECONDS:  # small and quick: time more steps
            more = [timed[-1][1]] + [_seconds(run, size, device) for _ in range(2)]
            timed[-1] = (size, statistics.median(more))
        return size / timed[-1][1], size
    return batch / (timed[-1][1] + (batch - size) * _per_image(timed, floor_s)), size


def _per_image(timed: list[tuple[int, float]], floor_s: float) -> float:
    """The cost of one more image in a step: the slope through the last two sizes timed, at
    least `floor_s`; with one size timed, `floor_s` (or, without one, as if the step had no fixed
    cost)."""
    if len(timed) < 2:
        return floor_s or timed[-1][1] / timed[-1][0]
    (b1, t1), (b2, t2) = timed[-2], timed[-1]
    return max((t2 - t1) / (b2 - b1), floor_s)


def _seconds(run, batch: int, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    run(batch)  # CPU operations finish before they return; CUDA's are waited for on either side
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start
