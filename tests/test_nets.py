"""The reports' small networks and the classifier heads: shapes, features, parameter counts."""

from __future__ import annotations

import pytest
import torch

from cvrepro.jobs.recipes import run_recipe
from cvrepro.nets import models, small_nets
from cvrepro.nets.heads import make_head
from cvrepro.nets.models import build_model, count_parameters
from cvrepro.nets.small_nets import ConvBNEncoder, ConvNet4, SmallCNN
from cvrepro.study import names

MODEL = run_recipe()["model"]  # the schema's defaults (stem, head)


@pytest.mark.parametrize("arch", ["convnet4", "convbn_encoder", "small_cnn", "resnet18"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [28, 32, 64, 96])
def test_every_arch_at_every_size(arch, channels, size):
    spec = {**MODEL, "arch": arch, "width": 8, "in_channels": channels, "num_classes": 7, "image_size": size}
    net = build_model(spec).eval()
    x = torch.randn(2, channels, size, size)
    assert net(x).shape == (2, 7)
    assert net.features(x).shape == (2, net.num_features)


def test_report_widths_give_the_reports_sizes():
    # S6: 4 conv of 128 on 96x96x3: 3->128 then 3x 128->128 convs, dense 128*1*1 -> 128.
    s6 = ConvNet4(in_channels=3, num_classes=10, width=128, image_size=96)
    convs = 3 * 128 * 9 + 128 + 3 * (128 * 128 * 9 + 128)
    assert count_parameters(s6) == convs + (128 * 128 + 128) + (128 * 10 + 10)
    # S7: the first linear layer has 128*8*8 = 8192 inputs at 32 px and a 4096-d embedding.
    s7 = ConvBNEncoder(in_channels=3, num_classes=10, width=64, image_size=32, embedding_dim=None)
    assert s7.embed[0].in_features == 8192 and s7.num_features == 4096
    assert 33_000_000 < count_parameters(s7) < 34_000_000  # dominated by the 8192x4096 layer
    # S5: named layers as in the report's gradient-flow plot.
    s5 = SmallCNN(in_channels=3, num_classes=2, width=32, image_size=64)
    names = {name.split(".")[0] for name, _ in s5.named_parameters()}
    assert {"conv1", "bn1", "conv2", "bn2", "conv3", "linear1", "linear2", "fc"} <= names


def test_s7_embedding_is_the_second_linear_layers_output():
    spec = {
        **MODEL,
        "arch": "convbn_encoder",
        "width": 8,
        "in_channels": 3,
        "num_classes": 10,
        "image_size": 32,
    }
    assert MODEL["embedding_dim"] is None  # the schema's default: today's 4,096-d embedding
    torch.manual_seed(0)
    net = build_model({**spec, "embedding_dim": 16}).eval()
    second = net.embed[-1]
    assert isinstance(second, torch.nn.Linear) and (second.in_features, second.out_features) == (4096, 16)
    x = torch.randn(3, 3, 32, 32)
    first = net.embed[:-1](net.encoder(x))  # FC 4096, ReLU, dropout
    assert first.shape == (3, 4096)
    assert torch.equal(net.features(x), second(first)) and net.num_features == 16
    assert net.fc.in_features == 16 and net(x).shape == (3, 10)
    # No second layer without embedding_dim; the features are the 4,096-d ReLU output.
    plain = build_model({**spec, "embedding_dim": None})
    assert plain.num_features == 4096 and len(plain.embed) == 3


def test_embedding_dim_is_only_for_convbn_encoder():
    import copy

    from conftest import TINY_STUDY
    from cvrepro.config import ConfigError, resolve_study

    study = copy.deepcopy(TINY_STUDY)
    study["runs"]["a"]["model"] = {"arch": "convnet4", "embedding_dim": 16}
    with pytest.raises(
        ConfigError, match="runs.a.model.embedding_dim: only convbn_encoder has it, not convnet4"
    ):
        resolve_study("tiny", study, "studies/tiny.yaml")


@pytest.mark.parametrize(
    ("built_for", "side", "conv"),
    [
        (96, 96, 9),  # S6's last conv sees a 1x1 map at 96 px
        (28, 12, 6),  # a DINO local crop of a 28-px image: the third conv sees 1x1 (NaN loss before)
    ],
)
def test_convnet4_gradients_under_cpu_bf16_autocast_match_fp32(built_for, side, conv):
    """Stride 2 on a 1x1 map gave garbage weight gradients under CPU bf16 autocast, so the
    network runs that conv at stride 1 there (the same function), whatever size it was built for."""
    torch.manual_seed(0)
    net = ConvNet4(in_channels=3, num_classes=10, width=32, image_size=built_for)
    weight = net.encoder[conv].weight
    x = torch.randn(8, 3, side, side)
    exact = torch.autograd.grad(net(x).sum(), weight)[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
    half = torch.autograd.grad(out.float().sum(), weight)[0]
    off_centre = half.clone()
    off_centre[:, :, 1, 1] = 0
    assert torch.isfinite(half).all() and off_centre.abs().max() == 0
    assert torch.allclose(half, exact, atol=0.05 * exact.abs().max().item())


def test_default_width_is_the_architectures_own():
    net = build_model(
        {**MODEL, "arch": "convnet4", "width": None, "in_channels": 3, "num_classes": 10, "image_size": 96}
    )
    assert net.num_features == 128


@pytest.mark.parametrize("kind", ["linear", "dropout_linear", "mlp"])
def test_heads(kind):
    head = make_head(kind, 16, 4, dropout=0.3, hidden=32)
    assert head(torch.randn(5, 16)).shape == (5, 4)
    net = build_model(
        {
            **MODEL,
            "arch": "resnet18",
            "width": 4,
            "in_channels": 3,
            "num_classes": 4,
            "image_size": 32,
            "head": {"kind": kind, "dropout": 0.3, "hidden": 32},
        }
    )
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 4)
    if kind == "mlp":
        assert isinstance(net.fc, torch.nn.Sequential) and net.fc[0].out_features == 32
    with pytest.raises(ValueError, match="unknown head 'conv'"):
        make_head("conv", 16, 4, 0.0, 32)


def test_the_light_name_lists_name_what_the_modules_build():
    """names.py is what the config checks read without importing torch; it must match the modules."""
    assert set(names.RESNETS) == set(models.RESNETS)
    assert set(names.SMALL_NETS) == set(small_nets.NETS)
