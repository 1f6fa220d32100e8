"""Subsets: stratified counts, uniform draws, determinism, nesting, disjointness."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FMNIST_DIR, needs_fashion_mnist
from cvrepro.data.subsets import class_counts, draw_subset

LABELS = np.repeat(np.arange(10), 100)  # 1000 images, 100 per class
np.random.default_rng(0).shuffle(LABELS)


def test_counts_per_class_are_balanced():
    index = draw_subset(LABELS, size=250, seed=0)
    counts = class_counts(LABELS, index)
    assert len(index) == 250 and len(set(index)) == 250
    assert sorted(counts.values()) == [25] * 10


def test_remainder_goes_to_distinct_classes():
    counts = class_counts(LABELS, draw_subset(LABELS, size=107, seed=3))
    assert sorted(counts.values()) == [10] * 3 + [11] * 7


def test_same_seed_same_indices_other_seed_other_indices():
    a = draw_subset(LABELS, size=100, seed=7)
    assert np.array_equal(a, draw_subset(LABELS, size=100, seed=7))
    assert not np.array_equal(a, draw_subset(LABELS, size=100, seed=8))


def test_nested_subset_lies_inside_its_parent():
    parent = draw_subset(LABELS, size=500, seed=0)
    child = draw_subset(LABELS, size=100, seed=0, within=parent)
    assert set(child) <= set(parent)
    assert sorted(class_counts(LABELS, child).values()) == [10] * 10


def test_disjoint_subsets_share_nothing():
    val = draw_subset(LABELS, size=200, seed=1)
    train = draw_subset(LABELS, size=800, seed=0, exclude=[val])
    assert not set(train) & set(val)
    assert len(train) == 800


def test_first_k_classes_filter_and_all_remaining():
    index = draw_subset(LABELS, size=None, seed=0, classes=5)
    assert set(LABELS[index]) == set(range(5)) and len(index) == 500


def test_too_large_and_unbalanced_requests_fail_clearly():
    with pytest.raises(ValueError, match="size 1001 is larger than the 1000 images available"):
        draw_subset(LABELS, size=1001, seed=0)
    skewed = np.array([0] * 90 + [1] * 10)
    with pytest.raises(ValueError, match="class 1 has 10 images available but a stratified draw needs 25"):
        draw_subset(skewed, size=50, seed=0)


def test_a_uniform_draw_ignores_class_and_takes_a_skewed_pool_as_it_is():
    val = draw_subset(LABELS, size=200, seed=1)
    index = draw_subset(LABELS, size=300, seed=4, exclude=[val], stratified=False)
    pool = np.setdiff1d(np.arange(len(LABELS)), val)
    assert np.array_equal(index, np.sort(np.random.default_rng(4).permutation(pool)[:300]))
    assert len(set(class_counts(LABELS, index).values())) > 1  # random_split-like: counts vary
    skewed = np.array([0] * 90 + [1] * 10)  # a stratified draw of 50 would need 25 of class 1
    assert len(draw_subset(skewed, size=50, seed=0, stratified=False)) == 50


@needs_fashion_mnist
def test_subset_script_on_real_fashion_mnist_never_touches_test(tmp_path):
    """The entry script on the real prepared data: 40k/10k style split of train, test untouched."""
    import subset as subset_script

    from cvrepro.data.datasets.prepare import prepare_dataset

    data = tmp_path / "prepared"
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    for path in FMNIST_DIR.glob("*.gz"):
        (downloads / path.name).symlink_to(path)
    prepare_dataset("fashion_mnist", downloads, data, {})
    val = subset_script.main(data, "train", tmp_path / "val.npy", tmp_path / "val.json", size=10000, seed=1)
    train = subset_script.main(
        data,
        "train",
        tmp_path / "train.npy",
        tmp_path / "train.json",
        size=None,
        seed=0,
        exclude=[tmp_path / "val.npy"],
    )
    assert len(val) == 10000 and len(train) == 50000 and not set(val) & set(train)
    assert (tmp_path / "train.json").read_text().count('"') > 10
