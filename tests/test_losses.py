"""Losses against hand-written references (explicit loops), and a few gradient steps reduce each."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from cvrepro.train.contrastive import (
    contrastive_accuracy,
    cross_view_accuracy,
    cross_view_loss,
    decoupled_nt_xent_loss,
    nt_xent_loss,
)
from cvrepro.train.metric_losses import CenterLoss, triplet_margin_loss
from cvrepro.train.supervised import combined_loss


def distance(a: torch.Tensor, b: torch.Tensor, kind: str) -> float:
    if kind == "euclidean":
        return float(torch.sqrt(((a - b) ** 2).sum()))
    return float(1 - (a @ b) / (a.norm() * b.norm()))


def reference_triplet(x: torch.Tensor, y: torch.Tensor, margin: float, kind: str, mining: str) -> float:
    n = len(y)
    if mining == "batch_all":
        losses = [
            max(distance(x[a], x[p], kind) - distance(x[a], x[q], kind) + margin, 0.0)
            for a, p, q in itertools.product(range(n), repeat=3)
            if a != p and y[a] == y[p] and y[a] != y[q]
        ]
        positive = [v for v in losses if v > 1e-16]
        return sum(positive) / len(positive) if positive else 0.0
    if mining == "batch_hard":
        losses = []
        for a in range(n):
            pos = [distance(x[a], x[p], kind) for p in range(n) if p != a and y[p] == y[a]]
            neg = [distance(x[a], x[q], kind) for q in range(n) if y[q] != y[a]]
            if pos and neg:
                losses.append(max(max(pos) - min(neg) + margin, 0.0))
        return sum(losses) / len(losses)
    if mining == "semi_hard":
        losses = []
        for a, p in itertools.product(range(n), repeat=2):
            if a == p or y[a] != y[p]:
                continue
            d_ap = distance(x[a], x[p], kind)
            negs = [distance(x[a], x[q], kind) for q in range(n) if y[q] != y[a]]
            farther = [d for d in negs if d > d_ap]
            chosen = min(farther) if farther else min(negs)
            losses.append(max(d_ap - chosen + margin, 0.0))
        return sum(losses) / len(losses)
    raise AssertionError(mining)


@pytest.mark.parametrize("n", [6, 9, 16])
@pytest.mark.parametrize("kind", ["euclidean", "cosine"])
@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard"])
def test_triplet_matches_reference(n, kind, mining):
    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, 5, generator=g)
    y = torch.arange(n) % 3
    margin = 0.5 if kind == "cosine" else 1.0
    ours = float(triplet_margin_loss(x, y, margin, kind, mining))
    assert ours == pytest.approx(reference_triplet(x, y, margin, kind, mining), rel=1e-4, abs=1e-5)


def reference_nt_xent(z1: torch.Tensor, z2: torch.Tensor, t: float) -> float:
    z = [v / v.norm() for v in torch.cat([z1, z2])]
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        denominator = sum(math.exp(float(z[i] @ z[k]) / t) for k in range(2 * n) if k != i)
        total += -math.log(math.exp(float(z[i] @ z[j]) / t) / denominator)
    return total / (2 * n)


@pytest.mark.parametrize("n", [2, 5, 12])
@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_matches_reference(n, temperature):
    g = torch.Generator().manual_seed(n)
    z1, z2 = torch.randn(n, 8, generator=g), torch.randn(n, 8, generator=g)
    assert float(nt_xent_loss(z1, z2, temperature)) == pytest.approx(
        reference_nt_xent(z1, z2, temperature), rel=1e-5
    )


def reference_s1_formula(z1: torch.Tensor, z2: torch.Tensor, t: float) -> float:
    """S1's printed loss, term by term (report, section 3):
    l(z_i, z~_i) = log exp(sim(z_i, z~_i)/t) / [sum_k 1[k != i] exp(sim(z_i, z_k)/t)
                                               + sum_k 1[k != i] exp(sim(z_i, z~_k)/t)],
    L = 1/(2N) sum_k [l(z_k, z~_k) + l(z~_k, z_k)]. Printed without a minus sign, L would grow as
    the positive pair's similarity grows, so the loss to minimise is -L."""
    views = ([v / v.norm() for v in z1], [v / v.norm() for v in z2])
    n = len(z1)

    def sim(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(a @ b) / t

    def term(mine: list, other: list, i: int) -> float:
        same_view = sum(math.exp(sim(mine[i], mine[k])) for k in range(n) if k != i)
        other_view = sum(math.exp(sim(mine[i], other[k])) for k in range(n) if k != i)
        return math.log(math.exp(sim(mine[i], other[i])) / (same_view + other_view))

    z, z_tilde = views
    big_l = sum(term(z, z_tilde, k) + term(z_tilde, z, k) for k in range(n)) / (2 * n)
    return -big_l


@pytest.mark.parametrize("n", [2, 5, 12])
@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_decoupled_loss_is_s1_s_formula_and_nt_xent_without_the_positive_below(n, temperature):
    g = torch.Generator().manual_seed(100 + n)
    z1, z2 = (
        torch.randn(n, 8, generator=g, dtype=torch.float64),
        torch.randn(n, 8, generator=g, dtype=torch.float64),
    )
    ours = float(decoupled_nt_xent_loss(z1, z2, temperature))
    assert ours == pytest.approx(reference_s1_formula(z1, z2, temperature), rel=1e-12)
    # NT-Xent's per-view term is -pos + log(pos_exp + negatives); the decoupled one drops pos_exp.
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    positive = sim[torch.arange(2 * n), partner]
    everything_but_self = torch.logsumexp(sim.fill_diagonal_(-float("inf")), dim=1)
    assert float(nt_xent_loss(z1, z2, temperature)) == pytest.approx(
        float((everything_but_self - positive).mean())
    )
    without_positive = torch.log(torch.exp(everything_but_self) - torch.exp(positive))
    assert ours == pytest.approx(float((without_positive - positive).mean()), rel=1e-12)
    assert ours < float(nt_xent_loss(z1, z2, temperature))  # a smaller denominator


def test_contrastive_accuracy_counts_positive_pairs():
    z = torch.eye(4)
    assert float(contrastive_accuracy(z, z.clone())) == 1.0
    assert float(contrastive_accuracy(z, z[[1, 0, 2, 3]])) == 0.5


def reference_cross_view(z1: torch.Tensor, z2: torch.Tensor, t: float) -> tuple[float, float]:
    """S6's Keras code as loops: similarities = l2n(p1) @ l2n(p2)^T / t; sparse categorical
    cross-entropy of labels 0..N-1 against [similarities; similarities^T] (mean of the 2N terms);
    accuracy = argmax of each of those 2N rows equal to its label."""
    a = [v / v.norm() for v in z1]
    b = [v / v.norm() for v in z2]
    n = len(a)
    sim = [[float(a[i] @ b[j]) / t for j in range(n)] for i in range(n)]
    rows = sim + [[sim[i][j] for i in range(n)] for j in range(n)]  # then the columns
    total, correct = 0.0, 0
    for r, logits in enumerate(rows):
        label = r % n
        total += -math.log(math.exp(logits[label]) / sum(math.exp(v) for v in logits))
        correct += max(range(n), key=lambda k: logits[k]) == label
    return total / (2 * n), correct / (2 * n)


@pytest.mark.parametrize("n", [2, 5, 12])
@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_cross_view_loss_and_accuracy_match_the_reports_code(n, temperature):
    g = torch.Generator().manual_seed(100 + n)
    z1, z2 = torch.randn(n, 8, generator=g), torch.randn(n, 8, generator=g)
    loss, accuracy = reference_cross_view(z1, z2, temperature)
    assert float(cross_view_loss(z1, z2, temperature)) == pytest.approx(loss, rel=1e-5)
    assert float(cross_view_accuracy(z1, z2)) == pytest.approx(accuracy)
    # It is not NT-Xent: no same-view negatives.
    assert float(cross_view_loss(z1, z2, temperature)) != pytest.approx(
        float(nt_xent_loss(z1, z2, temperature))
    )


def test_cross_view_accuracy_scores_rows_and_columns_separately():
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z2 = torch.tensor([[0.8, 0.6], [1.0, 0.0]])
    # similarities [[0.8, 1.0], [0.6, 0.0]]: both rows miss; column 0 hits, column 1 misses
    assert float(cross_view_accuracy(z1, z2)) == 0.25
    assert float(cross_view_accuracy(z1, z1.clone())) == 1.0


def test_center_loss_value_and_centre_update_rate():
    center = CenterLoss(num_classes=2, feature_dim=2, alpha=0.5)
    features = torch.tensor([[2.0, 0.0], [4.0, 0.0], [0.0, 6.0]])
    labels = torch.tensor([0, 0, 1])
    loss = center(features, labels)
    assert float(loss) == pytest.approx(0.5 * (4 + 16 + 36) / 3)  # centres start at 0
    # Wen et al.: delta c_j = sum_i (c_j - x_i) / (1 + n_j); c_j -= alpha * delta
    assert torch.allclose(center.centers[0], torch.tensor([0.5 * 6 / 3, 0.0]))
    assert torch.allclose(center.centers[1], torch.tensor([0.0, 0.5 * 6 / 2]))
    center.eval()
    center(features, labels)
    assert torch.allclose(center.centers[1], torch.tensor([0.0, 1.5]))  # no update in eval mode


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "ce", "label_smoothing": 0.0},
        {"name": "ce", "label_smoothing": 0.1},
        {
            "name": "ce_triplet",
            "weight": 1.0,
            "margin": 1.0,
            "mining": "batch_hard",
            "distance": "euclidean",
            "label_smoothing": 0.0,
        },
        {
            "name": "ce_triplet",
            "weight": 1.0,
            "margin": 0.5,
            "mining": "semi_hard",
            "distance": "cosine",
            "label_smoothing": 0.0,
        },
        {"name": "ce_center", "weight": 0.5, "alpha": 0.5, "label_smoothing": 0.0},
    ],
)
def test_a_few_gradient_steps_reduce_each_loss(spec):
    torch.manual_seed(0)
    inputs = torch.randn(24, 6)
    labels = torch.arange(24) % 3
    net = torch.nn.Linear(6, 4)
    head = torch.nn.Linear(4, 3)
    center = CenterLoss(3, 4, alpha=spec.get("alpha", 0.5)) if spec["name"] == "ce_center" else None
    optimizer = torch.optim.SGD([*net.parameters(), *head.parameters()], lr=0.1)
    losses = []
    for _ in range(30):
        embeddings = net(inputs)
        loss, parts = combined_loss(head(embeddings), embeddings, labels, spec, center)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1, losses
    assert "ce" in parts


def test_nt_xent_gradient_steps_reduce_it():
    torch.manual_seed(0)
    base = torch.randn(16, 6)
    net = torch.nn.Linear(6, 6)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
    losses = []
    for _ in range(30):
        view1, view2 = base + 0.3 * torch.randn_like(base), base + 0.3 * torch.randn_like(base)
        loss = nt_xent_loss(net(view1), net(view2), 0.5)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) < sum(losses[:5])


def test_no_valid_triplet_gives_a_zero_that_keeps_the_graph():
    x = torch.randn(4, 3, requires_grad=True)
    loss = triplet_margin_loss(x, torch.zeros(4, dtype=torch.long), 1.0, "euclidean", "batch_all")
    loss.backward()
    assert loss.item() == 0.0 and x.grad is not None


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match="unknown loss 'focal'; choose from"):
        combined_loss(
            torch.zeros(2, 2),
            torch.zeros(2, 2),
            torch.zeros(2, dtype=torch.long),
            {"name": "focal", "label_smoothing": 0.0},
        )
    with pytest.raises(ValueError, match="unknown mining 'hardest'"):
        triplet_margin_loss(torch.randn(4, 2), torch.tensor([0, 0, 1, 1]), 1.0, "euclidean", "hardest")


def test_the_contrastive_losses_are_the_schemas():
    """A new contrastive loss is an entry in CONTRASTIVE plus the schema's enum (the supervised
    losses and the methods are plugins: tests/test_methods.py)."""
    from cvrepro.config.schema import definition
    from cvrepro.train.contrastive import CONTRASTIVE

    assert set(CONTRASTIVE) == set(definition("pretraining")["properties"]["loss"]["enum"])


def test_label_smoothing_is_torchs_cross_entropy_with_label_smoothing():
    """On a fixed batch, equal to torch.nn.CrossEntropyLoss(label_smoothing=0.1), and to its
    definition: (1 - s) x CE(true class) + s x mean over classes of -log p."""
    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(16, 5, generator=g), torch.randint(0, 5, (16,), generator=g)
    spec = {"name": "ce", "label_smoothing": 0.1}
    ours, parts = combined_loss(logits, torch.zeros(16, 2), labels, spec)
    torch.testing.assert_close(
        ours, torch.nn.CrossEntropyLoss(label_smoothing=0.1)(logits, labels), rtol=0, atol=0
    )
    log_p = torch.log_softmax(logits, 1)
    by_hand = (0.9 * -log_p[torch.arange(16), labels] + 0.1 * -log_p.mean(1)).mean()
    torch.testing.assert_close(ours, by_hand)


def mixing_case(alpha_key: str):
    """A fixed batch, a tiny model, the supervised method mixing it, and torchvision's own mix."""
    from torchvision.transforms import v2

    from cvrepro.data.tensors import augmented
    from cvrepro.jobs.recipes import run_recipe
    from cvrepro.nets.models import build_model
    from cvrepro.train.supervised import supervised

    g = torch.Generator().manual_seed(1)
    images = (torch.rand(8, 3, 16, 16, generator=g) * 255).to(torch.uint8)
    labels = torch.randint(0, 4, (8,), generator=g)
    recipe = run_recipe(augment="flip", loss={"name": "ce", "label_smoothing": 0.1, alpha_key: 0.4})
    arch = {**recipe["model"], "width": 4, "in_channels": 3, "num_classes": 4, "image_size": 16}
    torch.manual_seed(0)
    net = build_model(arch).eval()  # eval: BatchNorm's statistics stay put between the two passes
    mean, std = [0.5] * 3, [0.25] * 3
    method = supervised(net, recipe, mean, std, 4, None)
    make = {"mixup_alpha": v2.MixUp, "cutmix_alpha": v2.CutMix}[alpha_key]
    x = augmented(images, "flip", mean, std, torch.Generator().manual_seed(5))
    torch.manual_seed(7)
    mixed, targets = make(alpha=0.4, num_classes=4)(x, labels)
    torch.manual_seed(7)
    loss, sums = method.step(images, labels, torch.Generator().manual_seed(5))
    return net, x, labels, mixed, targets, loss, sums


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("alpha_key", ["mixup_alpha", "cutmix_alpha"])
def test_mixup_and_cutmix_are_torchvisions_on_the_augmented_batch(alpha_key, precision):
    """The training step's loss is label-smoothed cross-entropy of the model on torchvision's
    MixUp / CutMix of the augmented batch (same seed), and that mix is what its paper defines.
    The reference runs under the precision the step ran in (pinned, so a bf16 CPU and an fp32 one
    test the same thing): exact in fp32, and in bf16 the same autocast gives the same numbers."""
    from cvrepro.nets.device import autocast, set_precision

    set_precision(precision)
    net, x, labels, mixed, targets, loss, sums = mixing_case(alpha_key)
    with autocast(torch.device("cpu")):
        logits = net(mixed)
    expected = torch.nn.CrossEntropyLoss(label_smoothing=0.1)(logits.float(), targets)
    torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-6)
    assert int(sums["correct"]) == int((logits.argmax(1) == targets.argmax(1)).sum())
    one_hot = torch.nn.functional.one_hot(labels, 4).float()
    assert labels[0] != labels[-1]  # so image 0's own-class weight is its lam
    lam = float(targets[0] @ one_hot[0])
    if alpha_key == "mixup_alpha":  # lam x image + (1 - lam) x the one before
        torch.testing.assert_close(mixed, lam * x + (1 - lam) * x.roll(1, 0))
        torch.testing.assert_close(targets, lam * one_hot + (1 - lam) * one_hot.roll(1, 0))
    else:  # a box pasted from the image before; targets mixed by the area kept
        assert ((mixed == x) | (mixed == x.roll(1, 0))).all()
        pasted = (mixed != x).any(1)[0]
        assert pasted.any() and lam == pytest.approx(1 - float(pasted.float().mean()))
