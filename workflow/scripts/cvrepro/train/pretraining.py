"""Self-supervised pretraining: SimCLR and triplet pretraining, their contrastive losses
(the registry CONTRASTIVE, a pretraining's loss) and their methods for the one loop
(cvrepro.train.engine.fit), in the style of solo-learn's per-method pieces."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from cvrepro.data.tensors import TensorSet, augmented
from cvrepro.nets.device import autocast, compile_setting, maybe_compile, model_input
from cvrepro.nets.inference import extract_features
from cvrepro.train.engine import Method
from cvrepro.train.online_probe import online_probe, probe_scores
from cvrepro.train.supervised import triplet_margin_loss


def _partners(n: int, device: torch.device) -> torch.Tensor:
    """Each of 2N views' positive: view i's is i + N and back; made on the device (a CPU tensor
    moved there would be a host-to-device copy that waits, in every step)."""
    return torch.cat([torch.arange(n, 2 * n, device=device), torch.arange(0, n, device=device)])


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent over 2N views: each view's positive is its pair; self-similarity masked."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), -float("inf"))
    targets = _partners(n, z.device)
    return F.cross_entropy(sim, targets)


def decoupled_nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent without the positive in its denominator: each view's 2(N-1) negatives only (the
    decoupled contrastive loss of Yeh et al. 2022, and S1's printed formula)."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    sim = z @ z.T / temperature
    rows = torch.arange(2 * n, device=z.device)
    partners = torch.cat([rows[n:], rows[:n]])
    positive = sim[rows, partners]
    not_negative = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    not_negative[rows, partners] = True
    negatives = sim.masked_fill(not_negative, -float("inf"))
    return (torch.logsumexp(negatives, dim=1) - positive).mean()


def contrastive_accuracy(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Fraction of the 2N views whose most similar other view is their positive pair."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    sim = (z @ z.T).masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), -float("inf"))
    return (sim.argmax(1) == _partners(n, z.device)).float().mean()


def cross_view_logits(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """The N x N cosine similarities of view 1 (rows) to view 2 (columns), over the temperature."""
    return F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T / temperature


def cross_view_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """S6's contrastive loss (the Keras SimCLR example's): cross-entropy with labels 0..N-1 over
    the rows and over the columns of the N x N view-1 vs view-2 logits, the mean of the 2N
    terms. Unlike NT-Xent there are no same-view negatives: each view competes only with the
    other view's N - 1 images."""
    logits = cross_view_logits(z1, z2, temperature)
    targets = torch.arange(len(z1), device=z1.device)
    return F.cross_entropy(torch.cat([logits, logits.T]), torch.cat([targets, targets]))


def cross_view_accuracy(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Fraction of the 2N rows and columns of the view-1 vs view-2 similarity matrix whose
    largest entry is on the diagonal (the report's 'CONTRASTIVE ACCURACY')."""
    sim = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T
    targets = torch.arange(len(z1), device=z1.device)
    return torch.cat([sim.argmax(1) == targets, sim.argmax(0) == targets]).float().mean()


CONTRASTIVE = {
    "nt_xent": (nt_xent_loss, contrastive_accuracy),
    "decoupled": (decoupled_nt_xent_loss, contrastive_accuracy),
    "cross_view": (cross_view_loss, cross_view_accuracy),
}


class PretrainNet(nn.Module):
    """The encoder being pretrained plus what only pretraining needs (SimCLR's projection head),
    saved and resumed together; the encoder alone is kept afterwards."""

    def __init__(self, encoder: nn.Module, projector: nn.Module | None) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = projector if projector is not None else nn.Identity()


def projected(model: PretrainNet) -> Callable[[torch.Tensor], torch.Tensor]:
    """SimCLR's x -> z = g(f(x)) as a plain function: the unit torch.compile compiles."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        return model.projector(model.encoder.features(x))

    return forward


def simclr(
    model: PretrainNet,
    recipe: dict,
    mean: list[float],
    std: list[float],
    probe: TensorSet | None,
    *,
    probe_val: TensorSet | None = None,
    steps: int | None = None,
) -> Method:
    """The contrastive loss `recipe["loss"]` (NT-Xent or S6's cross-view loss) between two
    augmented views of each image (labels unused), its accuracy on the same similarities, and
    the linear probe on `probe` as `recipe["probe"]` says: refit after every epoch, or online
    (trained alongside, one step per contrastive step of the `steps` per epoch; scored on
    `probe_val` after every epoch)."""
    forward = maybe_compile(projected(model), compile_setting())
    augment, temperature = recipe["augment"], recipe["temperature"]
    loss_fn, accuracy_fn = CONTRASTIVE[recipe["loss"]]
    online = None
    if recipe["probe"] == "online":
        if probe is None or steps is None:
            raise ValueError("probe: online needs the labelled probe_data and the steps per epoch")
        online = online_probe(model.encoder, probe, probe_val, steps, recipe, mean, std)

    def step(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        labelled = None
        if online is not None and recipe["contrast_labelled"]:
            # The Keras example's train_step: the labelled batch joins the contrastive batch too.
            labelled = online.batch(generator)
            images = torch.cat([images, labelled[0]])
        v1 = augmented(images, augment, mean, std, generator)
        v2 = augmented(images, augment, mean, std, generator)
        with autocast(images.device):
            z = forward(model_input(torch.cat([v1, v2]), model)).float()
        z1, z2 = z.chunk(2)
        loss = loss_fn(z1, z2, temperature)
        sums = {"loss": loss.detach(), "acc": accuracy_fn(z1.detach(), z2.detach())}
        if online is not None:
            sums.update(online.train(*(labelled or online.batch(generator)), generator))
        return loss, sums

    def summarize(sums: dict[str, float], images: int, steps: int) -> dict[str, float]:
        scores = {"train_loss": sums["loss"] / steps, "contrastive_acc": sums["acc"] / steps}
        return {**scores, **probe_scores(sums)} if online is not None else scores

    def probe_accuracy(generator: torch.Generator) -> dict[str, float]:
        if online is not None:
            return online.validate()
        if probe is None:
            return {}
        from cvrepro.evaluate.probes import linear_probe_accuracy  # scikit-learn, only where there is a probe

        features = extract_features(model.encoder, probe, mean, std, None, "penultimate")
        return {"probe_acc": linear_probe_accuracy(features, probe.labels.cpu().numpy(), recipe["seed"])}

    return Method(step, summarize, probe_accuracy, online.head if online is not None else None, views=2)


def triplet(model: PretrainNet, recipe: dict, mean: list[float], std: list[float]) -> Method:
    """The triplet margin loss on the encoder's embedding, triplets mined inside each batch."""
    forward = maybe_compile(model.encoder.features, compile_setting())
    augment, spec = recipe["augment"], recipe["triplet"]

    def step(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        x = augmented(images, augment, mean, std, generator)
        with autocast(images.device):
            embeddings = forward(model_input(x, model)).float()
        loss = triplet_margin_loss(
            embeddings, labels, spec["margin"], spec["distance"], spec["mining"], generator
        )
        return loss, {"loss": loss.detach()}

    def summarize(sums: dict[str, float], images: int, steps: int) -> dict[str, float]:
        return {"train_loss": sums["loss"] / steps}

    return Method(step, summarize)


def pretraining_method(
    model: PretrainNet, recipe: dict, mean: list[float], std: list[float], probe: TensorSet | None, **online
) -> Method:
    """The Method of `recipe["method"]`; `probe` and `online` (simclr's probe_val and steps) go
    to simclr, whose signature says what they are."""
    if recipe["method"] == "simclr":
        return simclr(model, recipe, mean, std, probe, **online)
    if recipe["method"] == "triplet":
        return triplet(model, recipe, mean, std)
    raise ValueError(f"unknown pretraining method {recipe['method']!r}; choose from ['simclr', 'triplet']")
