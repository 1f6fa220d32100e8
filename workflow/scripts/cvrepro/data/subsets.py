"""Seeded subsets of a prepared split (stratified by class, or uniform), as index arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def draw_subset(
    labels: np.ndarray,
    size: int | None,
    seed: int,
    classes: int | None = None,
    within: np.ndarray | None = None,
    exclude: Sequence[np.ndarray] = (),
    stratified: bool = True,
) -> np.ndarray:
    """Indices into `labels`: stratified by class (or uniform), sorted, reproducible for a seed.

    The pool is every index (or `within`), minus every index in `exclude`, restricted to
    labels < `classes`. Stratified: each class gets size // k images and the remainder goes to
    randomly chosen classes, so a 5,000-image subset of a 100-class set has 50 per class; a class
    that is too small to give its share is an error, not a silently unbalanced subset. Uniform
    (`stratified=False`): `size` images drawn from the pool without regard to class, as
    torch.utils.data.random_split draws them.
    """
    labels = np.asarray(labels)
    pool = np.arange(len(labels)) if within is None else np.unique(np.asarray(within, dtype=np.int64))
    for other in exclude:
        pool = np.setdiff1d(pool, np.asarray(other, dtype=np.int64), assume_unique=False)
    if classes is not None:
        pool = pool[labels[pool] < classes]
    if not len(pool):  # an empty subset would surface as a division by zero in training
        raise ValueError(
            "no images to draw from: the split (or `within`) minus `exclude`"
            f"{' restricted to the first ' + str(classes) + ' classes' if classes is not None else ''} is empty"
        )
    if size is None:
        return np.sort(pool).astype(np.int64)
    if size > len(pool):
        raise ValueError(f"size {size} is larger than the {len(pool)} images available")

    rng = np.random.default_rng(seed)
    if not stratified:
        return np.sort(rng.permutation(pool)[:size]).astype(np.int64)
    present = np.unique(labels[pool])
    by_class = {c: rng.permutation(pool[labels[pool] == c]) for c in present}
    quota = {c: size // len(present) for c in present}
    for c in rng.choice(present, size=size % len(present), replace=False):
        quota[c] += 1
    short = {int(c): (len(by_class[c]), quota[c]) for c in present if len(by_class[c]) < quota[c]}
    if short:
        c, (have, want) = next(iter(short.items()))
        raise ValueError(f"class {c} has {have} images available but a stratified draw needs {want}")
    chosen = np.concatenate([by_class[c][: quota[c]] for c in present])
    return np.sort(chosen).astype(np.int64)


def class_counts(labels: np.ndarray, index: np.ndarray) -> dict[int, int]:
    values, counts = np.unique(np.asarray(labels)[index], return_counts=True)
    return {int(v): int(n) for v, n in zip(values, counts, strict=True)}
