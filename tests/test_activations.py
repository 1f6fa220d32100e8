"""Activation maps of chosen layers (S2's figure)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cvrepro.evaluate.activations import activation_maps, first_of_each_class
from cvrepro.jobs.recipes import run_recipe
from cvrepro.nets.models import build_model


def test_maps_have_each_layers_resolution_and_are_channel_means():
    model = build_model(
        {**run_recipe(model={"width": 4})["model"], "num_classes": 10, "in_channels": 3, "image_size": 32}
    )
    x = torch.randn(2, 3, 32, 32)
    maps = activation_maps(model, x, ["layer1", "layer4"], None)
    assert maps["layer1"].shape == (2, 32, 32) and maps["layer4"].shape == (2, 4, 4)
    with torch.no_grad():
        expected = model.layer1(model.maxpool(model.relu(model.bn1(model.conv1(x))))).mean(1)
    np.testing.assert_allclose(maps["layer1"], expected.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="no layer 'layer9'"):
        activation_maps(model, x, ["layer9"], None)
    with pytest.raises(ValueError, match="no spatial output"):
        activation_maps(model, x, ["fc"], None)


def test_filter_maps_are_each_channel_and_tile_into_one_mosaic(tmp_path):
    """S2's per-filter grids: `channels` keeps the first k filters; the figure tiles them."""
    from cvrepro.report.figures.activations import figure, filter_mosaic
    from cvrepro.report.plot_axes import save_figure

    model = build_model(
        {**run_recipe(model={"width": 4})["model"], "num_classes": 10, "in_channels": 3, "image_size": 32}
    )
    x = torch.randn(2, 3, 32, 32)
    maps = activation_maps(model, x, ["conv1", "layer1.1.conv2"], 3)
    with torch.no_grad():
        expected = model.conv1(x)[:, :3]
    assert maps["conv1"].shape == (2, 3, 32, 32) and maps["layer1.1.conv2"].shape == (2, 3, 32, 32)
    np.testing.assert_allclose(maps["conv1"], expected.numpy(), rtol=1e-5, atol=1e-6)
    mosaic = filter_mosaic(maps["conv1"][0])  # 3 filters: 2 x 2 tiles, one blank
    assert mosaic.shape == (65, 65)
    np.testing.assert_allclose(np.nanmax(mosaic[:32, :32]), 1.0)
    assert np.isnan(mosaic[33:, 33:]).all() and np.isnan(mosaic[32, :]).all()
    images = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    save_figure(figure(images, maps, ["ship", "cat"]), tmp_path / "a.png", "filters")
    assert (tmp_path / "a.png").stat().st_size > 0


def test_first_image_of_each_named_class():
    labels = np.array([2, 0, 1, 0, 2])
    assert first_of_each_class(labels, ["cat", "dog", "ship"], ["ship", "cat"]) == [0, 1]
    with pytest.raises(ValueError, match="no class named 'frog'"):
        first_of_each_class(labels, ["cat", "dog", "ship"], ["frog"])
