"""SimCLR's contrastive losses, pure functions of the two views' projections, and the accuracy
each is scored with: the registry CONTRASTIVE (a simclr pretraining's `loss`), which the simclr
method (cvrepro.train.methods.simclr) selects from by that key."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
