"""Any torchvision classification model as a cvrepro network (issue 37): one model per family
builds with the study's head, gives features of the catalog's dimension and trains a step; ImageNet
weights load through torchvision's weights API from a state dict saved here in a temporary
TORCH_HOME; the weights' preprocessing equals torchvision's own; grey images and freezing by name."""

from __future__ import annotations

import warnings

import pytest
import torch

from cvrepro.nets import catalog
from cvrepro.nets.checkpoint import init_from_checkpoint
from cvrepro.nets.families import FAMILIES
from cvrepro.nets.models import build_model, freeze_modules, set_train_mode
from cvrepro.nets.preprocess import weights_preprocess
from cvrepro.nets.pretrained import TRUST_CACHE, torchvision_state_dict

# The smallest model of each family, at the smallest input it takes (kept small: CI's budget).
ONE_PER_FAMILY = {
    "alexnet": ("alexnet", 64),
    "convnext": ("convnext_tiny", 32),
    "densenet": ("densenet121", 32),
    "efficientnet": ("efficientnet_b0", 32),
    "googlenet": ("googlenet", 32),
    "inception": ("inception_v3", 75),
    "maxvit": ("maxvit_t", 224),
    "mnasnet": ("mnasnet0_5", 32),
    "mobilenetv2": ("mobilenet_v2", 32),
    "mobilenetv3": ("mobilenet_v3_small", 32),
    "regnet": ("regnet_x_400mf", 32),
    "resnet": ("resnext50_32x4d", 32),
    "shufflenetv2": ("shufflenet_v2_x0_5", 32),
    "squeezenet": ("squeezenet1_1", 32),
    "swin_transformer": ("swin_t", 32),
    "vgg": ("vgg11_bn", 32),
    "vision_transformer": ("vit_b_32", 32),
}


def spec(arch: str, size: int, channels: int = 3, head: str = "linear", **extra) -> dict:
    return {
        "arch": arch,
        "width": None,
        "stem": "cifar",
        "embedding_dim": None,
        "head": {"kind": head, "dropout": 0.1, "hidden": 16, "outputs": None},
        "in_channels": channels,
        "num_classes": 3,
        "image_size": size,
        "grey": "sum",
        **extra,
    }


def test_every_family_is_covered():
    assert set(ONE_PER_FAMILY) == set(FAMILIES)


@pytest.mark.parametrize("family", sorted(ONE_PER_FAMILY))
def test_one_model_per_family_builds_gives_features_and_trains_a_step(family):
    arch, size = ONE_PER_FAMILY[family]
    assert catalog.size_problem(arch, size, None) is None
    torch.manual_seed(0)
    model = build_model(spec(arch, size, head="mlp"))
    x, y = torch.randn(2, 3, size, size), torch.tensor([0, 2])
    model.train()
    features = model.features(x)  # one forward: the features feed the head
    assert features.shape == (2, catalog.models()[arch]["features"]) == (2, model.num_features)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    before = [p.detach().clone() for p in model.parameters()]
    torch.nn.functional.cross_entropy(model.fc(features), y).backward()
    optimizer.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def save_random_weights(arch: str, torch_home) -> dict:
    """torchvision's `arch` at random init, saved where torch.hub looks for its weights file."""
    from torchvision.models import get_model

    torch.manual_seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        state = get_model(arch).state_dict()
    path = torch_home / "hub" / "checkpoints" / catalog.weights_entry(arch, "DEFAULT")["file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


@pytest.mark.parametrize("arch", ["squeezenet1_1", "shufflenet_v2_x0_5", "mobilenet_v3_small", "googlenet"])
def test_imagenet_weights_load_through_torchvision_s_api(arch, tmp_path, monkeypatch):
    """The network's features are torchvision's model's pre-logits with those weights."""
    from torchvision.models import get_model

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv(TRUST_CACHE, "random weights saved by the test")
    saved = save_random_weights(arch, tmp_path)
    net = build_model(spec(arch, 32, weights="DEFAULT"))
    fresh = init_from_checkpoint(
        net, {"state_dict": torchvision_state_dict(arch, "DEFAULT", 3, None, "sum")}, "imagenet"
    )
    assert fresh == ["fc.bias", "fc.weight"]
    reference = get_model(
        arch, **({"transform_input": True, "aux_logits": True} if arch == "googlenet" else {})
    )
    reference.load_state_dict(saved)
    head = reference.get_submodule(catalog.models()[arch]["head"])
    captured = []
    head.register_forward_hook(lambda module, inputs, output: captured.append(inputs[0]))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        features = net.eval().features(x)
        reference.eval()(x)
    expected = captured[0].mean(dim=(2, 3)) if arch == "squeezenet1_1" else captured[0]
    torch.testing.assert_close(features, expected.flatten(1))


@pytest.mark.parametrize("arch", ["resnet50", "vit_b_16", "efficientnet_b3"])
def test_weights_preprocessing_equals_torchvision_s_transforms(arch):
    from torchvision.models import get_model_weights

    weights = get_model_weights(arch).DEFAULT
    batch = torch.randint(
        0, 256, (3, 3, 96, 120), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    ours = weights_preprocess(batch, catalog.weights_entry(arch, "DEFAULT")["transforms"])
    assert torch.equal(ours, weights.transforms()(batch))


def test_grey_images_sum_the_first_convolution_or_repeat_the_channel():
    torch.manual_seed(0)
    three = build_model(spec("mobilenet_v3_small", 32)).eval()
    state = {k: v for k, v in three.state_dict().items()}
    summed = build_model(spec("mobilenet_v3_small", 32, channels=1))
    summed.load_state_dict(
        {**state, "body.features.0.0.weight": state["body.features.0.0.weight"].sum(1, keepdim=True)}
    )
    repeated = build_model(spec("mobilenet_v3_small", 32, channels=1, grey="repeat"))
    repeated.load_state_dict(state)
    grey = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        expected = three(grey.expand(-1, 3, -1, -1))
        torch.testing.assert_close(summed.eval()(grey), expected)
        torch.testing.assert_close(repeated.eval()(grey), expected)


def test_freezing_by_module_name_keeps_the_head_and_frozen_batchnorm_in_eval():
    model = build_model(spec("mobilenet_v3_small", 32))
    assert freeze_modules(model, [], "features.5") == ["... features.5"]
    trainable = {n.removeprefix("body.") for n, p in model.named_parameters() if p.requires_grad}
    assert min(trainable).startswith("features.6") or all(
        not n.startswith(("features.0.", "features.5.")) for n in trainable
    )
    assert "fc.weight" in trainable and not any(n.startswith("features.5.") for n in trainable)
    set_train_mode(model, "eval")
    assert not model.body.features[5].block[0][1].training and model.body.features[6].block[0][1].training


@pytest.mark.parametrize(
    ("prefixes", "until", "message"),
    [
        (["features.77"], None, "freeze.modules: no module 'features.77' to freeze; did you mean features.7"),
        ([], "featurs.5", "freeze.until: no module 'featurs.5' to freeze; did you mean features.5"),
        (["fc"], None, "freeze.modules: no module 'fc' to freeze"),
    ],
)
def test_a_freeze_name_matching_nothing_is_refused_with_close_names(prefixes, until, message):
    model = build_model(spec("mobilenet_v3_small", 32))
    with pytest.raises(ValueError, match=message):
        freeze_modules(model, prefixes, until)


def test_a_rehearsal_loads_random_stand_in_weights_through_the_same_api(tmp_path, monkeypatch):
    """The rehearsal's random weights (written once under torchvision's file name) load through
    get_model(weights=...); torch.hub's own directory is left as it was."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    state = torchvision_state_dict("squeezenet1_1", "DEFAULT", 1, tmp_path / "random", "sum")
    assert (tmp_path / "random" / catalog.weights_entry("squeezenet1_1", "DEFAULT")["file"]).is_file()
    assert state["body.features.0.weight"].shape[1] == 1 and not any(k.startswith("fc.") for k in state)
    assert torch.hub.get_dir() == str(tmp_path / "home" / "hub")


def test_a_named_layer_of_a_torchvision_model_is_read_by_torchvision_s_name():
    from cvrepro.nets.inference import layer_output

    model = build_model(spec("mobilenet_v3_small", 32)).eval()
    with torch.no_grad():
        out = layer_output(model, torch.randn(2, 3, 32, 32), "features.3")
    assert out.shape == (2, 24)


def test_a_training_run_fine_tunes_a_torchvision_model_from_imagenet_weights(tmp_path):
    """train.py's main on grey images: mobilenet_v3_small from (a rehearsal's stand-in) ImageNet
    weights, frozen up to features.3, its preprocessing kept in the checkpoint."""
    import numpy as np
    import train as train_script

    from cvrepro.data.datasets.splits import write_info, write_split
    from cvrepro.data.tensors import SubsetFiles
    from cvrepro.jobs.job import Job
    from cvrepro.jobs.recipes import run_recipe
    from cvrepro.nets.checkpoint import ModelFiles, load_model

    labels = np.arange(24) % 2
    images = (
        np.random.default_rng(0).random((24, 32, 32, 1)) * 100 + labels[:, None, None, None] * 120
    ).astype(np.uint8)
    write_split(tmp_path / "data", "train", images, labels)
    write_info(tmp_path / "data", "easy", ["dark", "bright"], {"train": 24}, {})
    np.save(tmp_path / "train.npy", np.arange(16))
    run = run_recipe(
        epochs=1,
        batch_size=8,
        init="imagenet",
        model={"arch": "mobilenet_v3_small"},
        freeze={"until": "features.3"},
    )
    files = [
        tmp_path / n for n in ("model.pt", "history.csv", "metrics.json", "resume.pt", "g.csv", "steps.csv")
    ]
    lines = []
    ctx = Job(
        torch.device("cpu"), log=lines.append, imagenet_weights="DEFAULT", random_weights=tmp_path / "random"
    )
    train_script.main(
        run,
        train=SubsetFiles(tmp_path / "data", "train", tmp_path / "train.npy"),
        val=None,
        init=None,
        out=ModelFiles(*files),
        ctx=ctx,
    )
    model, checkpoint = load_model(tmp_path / "model.pt")
    assert checkpoint["arch"]["weights_transforms"]["crop"] == 224 and model.num_features == 1024
    assert any("frozen ['... features.3']" in line for line in lines), lines
