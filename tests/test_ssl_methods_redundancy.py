"""barlow_twins and vicreg against their papers: each loss equals the paper's Algorithm 1,
written out here (not imported from our code), on random inputs to float precision; planted
errors fail; and each pretraining, a few epochs on real Fashion-MNIST, beats a random encoder
under a weighted kNN probe and a linear probe."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import fashion_subsets, needs_fashion_mnist
from cvrepro.data.tensors import channel_stats
from cvrepro.evaluate.probes import fit_probe
from cvrepro.jobs.recipes import pretraining_recipe, probe_recipe
from cvrepro.nets.device import place_model
from cvrepro.nets.inference import extract_features
from cvrepro.nets.models import build_model
from cvrepro.train.engine import fit
from cvrepro.train.methods import barlow_twins, pretrain_net, pretraining_method, vicreg

# --- the papers' Algorithm 1, written out -----------------------------------------------------------


def off_diagonal(x: torch.Tensor) -> torch.Tensor:
    """The papers' helper: the off-diagonal elements of a square matrix, flattened."""
    n = x.shape[0]
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def barlow_twins_paper(z_a, z_b, lambd):
    """Zbontar et al. 2021, Algorithm 1."""
    n, d = z_a.shape
    z_a_norm = (z_a - z_a.mean(0)) / z_a.std(0)
    z_b_norm = (z_b - z_b.mean(0)) / z_b.std(0)
    c = z_a_norm.T @ z_b_norm / n
    c_diff = (c - torch.eye(d)).pow(2)
    weights = torch.full((d, d), lambd).fill_diagonal_(1.0)  # off_diagonal(c_diff).mul_(lambda), out of place
    return (c_diff * weights).sum()


def vicreg_paper(z_a, z_b, lambd=25.0, mu=25.0, nu=1.0):
    """Bardes et al. 2022, Algorithm 1."""
    n, d = z_a.shape
    sim_loss = F.mse_loss(z_a, z_b)
    std_z_a = torch.sqrt(z_a.var(dim=0) + 1e-04)
    std_z_b = torch.sqrt(z_b.var(dim=0) + 1e-04)
    std_loss = torch.mean(F.relu(1 - std_z_a)) + torch.mean(F.relu(1 - std_z_b))
    z_a = z_a - z_a.mean(dim=0)
    z_b = z_b - z_b.mean(dim=0)
    cov_z_a = (z_a.T @ z_a) / (n - 1)
    cov_z_b = (z_b.T @ z_b) / (n - 1)
    cov_loss = off_diagonal(cov_z_a).pow(2).sum() / d + off_diagonal(cov_z_b).pow(2).sum() / d
    return lambd * sim_loss + mu * std_loss + nu * cov_loss


VICREG = {"invariance": 25.0, "variance": 25.0, "covariance": 1.0, "gamma": 1.0, "eps": 1e-4}
CASES = {
    "barlow_twins": (lambda a, b: barlow_twins.loss(a, b, 5e-3), lambda a, b: barlow_twins_paper(a, b, 5e-3)),
    "vicreg": (lambda a, b: vicreg.loss(a, b, VICREG), vicreg_paper),
}


def matches_paper(ours, paper) -> bool:
    """Same value and same gradients on three random draws (fp32; scales under and over the
    variance hinge's target, so both sides of the hinge are exercised)."""
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        a = [torch.randn(16, 10, generator=g) * (0.3 + seed) for _ in range(2)]
        b = [x.clone() for x in a]
        for x in a + b:
            x.requires_grad_(True)
        la, lb = ours(*a), paper(*b)
        la.backward()
        lb.backward()
        if not torch.allclose(la, lb, rtol=1e-5, atol=1e-6):
            return False
        if not all(torch.allclose(x.grad, y.grad, rtol=1e-5, atol=1e-6) for x, y in zip(a, b, strict=True)):
            return False
    return True


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_loss_is_its_papers_algorithm_1(name):
    assert matches_paper(*CASES[name])


def test_planted_errors_in_the_losses_fail():
    """lambda on the diagonal instead of off it, a wrong hinge sign, a biased variance, a missing
    covariance term each fail."""

    def bt_lambda_on_diagonal(z_a, z_b):
        n, d = z_a.shape
        z_a = (z_a - z_a.mean(0)) / z_a.std(0)
        z_b = (z_b - z_b.mean(0)) / z_b.std(0)
        c_diff = (z_a.T @ z_b / n - torch.eye(d)).pow(2)
        return (c_diff * torch.ones(d, d).fill_diagonal_(5e-3)).sum()

    def vicreg_hinge_sign(z_a, z_b):
        return vicreg.loss(z_a, z_b, {**VICREG, "gamma": -1.0})  # relu(-1 - std): never active

    def vicreg_no_covariance(z_a, z_b):
        return vicreg.loss(z_a, z_b, {**VICREG, "covariance": 0.0})

    def bt_biased_std(z_a, z_b):  # the authors' code's BatchNorm form: C scaled by (N - 1) / N
        n, d = z_a.shape
        c = F.batch_norm(z_a, None, None, training=True).T @ F.batch_norm(z_b, None, None, training=True) / n
        return ((c - torch.eye(d)).pow(2) * torch.full((d, d), 5e-3).fill_diagonal_(1.0)).sum()

    assert not matches_paper(bt_lambda_on_diagonal, CASES["barlow_twins"][1])
    assert not matches_paper(bt_biased_std, CASES["barlow_twins"][1])
    assert not matches_paper(vicreg_hinge_sign, vicreg_paper)
    assert not matches_paper(vicreg_no_covariance, vicreg_paper)


def test_each_method_declares_its_papers_heads():
    recipe = pretraining_recipe(method="barlow_twins")
    assert recipe["barlow_twins"] == {"projection": {"hidden": 8192, "dim": 8192}, "lambd": 0.005}
    assert pretraining_recipe(method="vicreg")["vicreg"] == {
        "projection": {"hidden": 8192, "dim": 8192},
        **VICREG,
    }
    small = {"projection": {"hidden": 32, "dim": 16}}
    head = barlow_twins.head(20, {"barlow_twins": small})
    linears = [m for m in head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(20, 32), (32, 32), (32, 16)]
    assert [type(m).__name__ for m in head][-1] == "Linear"  # no BatchNorm or ReLU after the last layer


# --- learning on real images ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    """Real Fashion-MNIST: 512 images to pretrain on, 1,000 to fit probes, 1,000 to score them."""
    return fashion_subsets(tmp_path_factory.mktemp("fashion"), 512)


def probe_accuracies(encoder, sets, mean, std) -> dict[str, float]:
    def features(name):
        return extract_features(encoder, sets[name], mean, std, None, "penultimate")

    fit_x, fit_y = features("fit"), sets["fit"].labels.numpy()
    score_x, score_y = features("score"), sets["score"].labels.numpy()
    return {
        kind: fit_probe(probe_recipe(kind=kind), fit_x, fit_y)[0].score(score_x, score_y)
        for kind in ("weighted_knn", "softmax")
    }


SMALL = {
    # lambda stays the paper's 5e-3 on the 128-d projector (solo-learn keeps it for 2048-d ones).
    "barlow_twins": {"barlow_twins": {"projection": {"hidden": 128, "dim": 128}}},
    "vicreg": {"vicreg": {"projection": {"hidden": 128, "dim": 128}}},
}


@needs_fashion_mnist
@pytest.mark.parametrize("name", sorted(SMALL))
def test_pretraining_beats_a_random_encoder_under_knn_and_linear_probes(name, fashion):
    mean, std = channel_stats(fashion["pretrain"].images)
    spec = {"in_channels": 1, "num_classes": 10, "image_size": 28}
    recipe = pretraining_recipe(
        method=name,
        model={"arch": "convnet4", "width": 16},
        epochs=4,
        batch_size=128,
        optimizer={"name": "adam", "lr": 2e-3, "weight_decay": 1e-6},
        augment={"name": "simclr", "grayscale_p": 0.0, "scale": [0.3, 1.0]},
        **SMALL[name],
    )
    torch.manual_seed(0)
    random_encoder = build_model({**recipe["model"], **spec})
    before = probe_accuracies(random_encoder, fashion, mean, std)
    torch.manual_seed(0)
    net = place_model(pretrain_net(build_model({**recipe["model"], **spec}), recipe), torch.device("cpu"), 28)
    method = pretraining_method(net, recipe, mean, std, None)
    history = fit(net, fashion["pretrain"], recipe, method, log=lambda line: None).history
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    after = probe_accuracies(net.encoder, fashion, mean, std)
    # Measured on the loaded 2-core build machine (n = 1,000 scored images, 4 epochs of 512):
    # barlow_twins kNN 0.360 -> 0.548, linear 0.398 -> 0.582; vicreg kNN 0.360 -> 0.561, linear 0.398 -> 0.588.
    assert after["weighted_knn"] > before["weighted_knn"] + 0.1, (before, after)
    assert after["softmax"] > before["softmax"] + 0.1, (before, after)
