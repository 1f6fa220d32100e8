"""benchmarks/model_zoo_bench.py (issue 37's Performance) compares like with like: cvrepro's
extraction and torchvision's plain loop give the same features, and both training loops run."""

from __future__ import annotations

import sys

import numpy as np
import torch

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import model_zoo_bench as bench  # noqa: E402

from cvrepro.nets.device import set_precision  # noqa: E402


def test_ours_and_the_plain_loop_extract_the_same_features_and_both_train():
    set_precision("fp32")  # like with like on every CPU (conftest sets "auto" again afterwards)
    cpu = torch.device("cpu")
    data = bench.images_on(cpu, 4, 40)
    ours = bench.extract_ours("mobilenet_v3_small", data, cpu, 3)()
    plain = bench.extract_plain("mobilenet_v3_small", data, cpu, 3)().numpy()
    assert ours.shape == plain.shape == (4, 1024)
    np.testing.assert_allclose(ours, plain, rtol=1e-4, atol=1e-4 * np.abs(plain).max())
    for make in (bench.train_ours, bench.train_plain):  # one epoch each (the benchmark times a second)
        make("mobilenet_v3_small", data, cpu, 4)()
