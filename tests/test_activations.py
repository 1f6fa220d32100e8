"""Activation maps of chosen layers (S2's figure)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cvrepro.activations import activation_maps, first_of_each_class
from cvrepro.config.recipes import run_recipe
from cvrepro.models import build_model


def test_maps_have_each_layers_resolution_and_are_channel_means():
    model = build_model(
        {**run_recipe(model={"width": 4})["model"], "num_classes": 10, "in_channels": 3, "image_size": 32}
    )
    x = torch.randn(2, 3, 32, 32)
    maps = activation_maps(model, x, ["layer1", "layer4"])
    assert maps["layer1"].shape == (2, 32, 32) and maps["layer4"].shape == (2, 4, 4)
    with torch.no_grad():
        expected = model.layer1(model.maxpool(model.relu(model.bn1(model.conv1(x))))).mean(1)
    np.testing.assert_allclose(maps["layer1"], expected.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="no layer 'layer9'"):
        activation_maps(model, x, ["layer9"])
    with pytest.raises(ValueError, match="no spatial output"):
        activation_maps(model, x, ["fc"])


def test_first_image_of_each_named_class():
    labels = np.array([2, 0, 1, 0, 2])
    assert first_of_each_class(labels, ["cat", "dog", "ship"], ["ship", "cat"]) == [0, 1]
    with pytest.raises(ValueError, match="no class named 'frog'"):
        first_of_each_class(labels, ["cat", "dog", "ship"], ["frog"])
