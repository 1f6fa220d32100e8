"""Batch augmentation presets: per-image randomness, seeds, geometry and colour on known images."""

from __future__ import annotations

import pytest
import torch

from cvrepro.data.augment_presets import PRESETS, eval_resize, resolve
from cvrepro.data.batch_augment import augment_batch, rotate


def batch(n: int = 16, channels: int = 3, size: int = 32) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("channels", [1, 3])
def test_presets_shapes_ranges_and_seeds(name, channels):
    x = batch(channels=channels)
    out = augment_batch(x, name, torch.Generator().manual_seed(1))
    size = resolve(name).get("size") or 32
    assert out.shape == (16, channels, size, size) and out.dtype == torch.float32
    assert out.min() >= -1e-6 and out.max() <= 1 + 1e-6
    again = augment_batch(x, name, torch.Generator().manual_seed(1))
    assert torch.equal(out, again)


@pytest.mark.parametrize("name", ["crop_flip", "s2_transfer", "s6_supervised", "simclr"])
def test_identical_images_get_different_parameters(name):
    one = batch(1)
    x = one.expand(8, -1, -1, -1).contiguous()
    out = augment_batch(x, name, torch.Generator().manual_seed(3))
    distinct = {tuple(o.flatten()[:64].tolist()) for o in out}
    assert len(distinct) > 1


def test_rotation_by_90_degrees_matches_rot90():
    x = torch.zeros(2, 1, 31, 31)
    x[:, 0, 5:12, 3:20] = 1.0
    rotated = rotate(x, torch.tensor([90.0, -90.0]))
    assert (rotated[0] - torch.rot90(x[0], k=1, dims=(1, 2))).abs().max() < 1e-4
    assert (rotated[1] - torch.rot90(x[1], k=-1, dims=(1, 2))).abs().max() < 1e-4


def test_flip_probability_is_respected():
    x = torch.arange(8.0).view(1, 1, 1, 8).expand(4000, 1, 8, 8).contiguous() / 8
    out = augment_batch(x, {"name": "flip", "flip_p": 0.4}, torch.Generator().manual_seed(0))
    flipped = (out[:, 0, 0, 0] > 0.5).float().mean().item()
    assert 0.37 < flipped < 0.43


def test_grayscale_makes_equal_channels():
    x = batch(64)
    out = augment_batch(
        x, {"name": "simclr", "grayscale_p": 1.0, "jitter_p": 0.0, "blur_p": 0.0}, torch.Generator()
    )
    assert torch.allclose(out[:, 0], out[:, 1]) and torch.allclose(out[:, 1], out[:, 2])


def test_s2_resizes_and_evaluation_follows():
    assert eval_resize("s2_transfer") == 224 and eval_resize("crop_flip") is None
    assert eval_resize({"name": "s2_transfer", "size": 64}) == 64


def test_unknown_presets_and_parameters_fail():
    with pytest.raises(ValueError, match="unknown augmentation 'mixup'"):
        augment_batch(batch(), "mixup", torch.Generator())
    with pytest.raises(ValueError, match="augmentation 'flip' has no parameter 'rotation'"):
        resolve({"name": "flip", "rotation": 3})


def test_hue_rotation_matches_torchvision_adjust_hue_image_by_image():
    from torchvision.transforms.v2.functional import adjust_hue as tv_adjust_hue

    from cvrepro.data.batch_augment import adjust_hue

    x = batch(8, size=12)
    x[0] = 0.5  # grey: hue and saturation 0
    x[1, :, :6] = torch.tensor([1.0, 0.0, 0.0])[:, None, None]  # pure red, exact maxima and ties
    x[1, 1, 6:] = x[1, 0, 6:]  # red == green ties
    factors = torch.tensor([0.3, -0.5, 0.5, 0.0, 0.1, -0.25, 0.49, -0.01])
    ours = adjust_hue(x, factors)
    for image, factor, mine in zip(x, factors.tolist(), ours, strict=True):
        reference = tv_adjust_hue(image, factor)
        # the same operations in the same order: equal to the last bit
        assert torch.equal(mine, reference), (factor, (mine - reference).abs().max())


def test_hue_jitter_draws_per_image_factors_and_keeps_brightness_order():
    from cvrepro.data.batch_augment import rgb_to_hsv

    x = batch(64)
    spec = {
        "name": "s6_supervised",
        "scale": None,
        "flip_p": 0.0,
        "jitter": 0.0,
        "jitter_p": 1.0,
        "hue": 0.5,
        "noise_std": 0.0,
    }
    out = augment_batch(x, spec, torch.Generator().manual_seed(0))
    h_in, s_in, v_in = rgb_to_hsv(x)
    h_out, s_out, v_out = rgb_to_hsv(out)
    # Only the hue moves (value and saturation kept), by one factor per image, different across images.
    assert torch.allclose(v_in, v_out, atol=1e-5) and torch.allclose(s_in, s_out, atol=1e-4)
    shift = ((h_out - h_in) % 1.0).flatten(1)
    circular = torch.minimum(shift, 1 - shift)
    per_image = shift[:, 0]
    assert (
        torch.minimum((shift - per_image[:, None]) % 1.0, 1 - (shift - per_image[:, None]) % 1.0) < 1e-3
    ).all()
    assert circular.max() > 0.2 and len({round(v, 3) for v in per_image.tolist()}) > 30


def test_hue_draws_its_factors_only_when_set_and_grey_images_ignore_it():
    x = batch(16)
    off = {"name": "s6_supervised", "hue": 0.0}
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    augment_batch(x, off, g1)
    augment_batch(x, {**off, "hue": 0.2}, g2)
    assert not torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))
    grey = batch(16, channels=1)
    one = augment_batch(grey, off, torch.Generator().manual_seed(5))
    two = augment_batch(grey, {**off, "hue": 0.2}, torch.Generator().manual_seed(5))
    assert torch.equal(one, two)
