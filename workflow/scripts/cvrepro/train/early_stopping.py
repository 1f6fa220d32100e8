"""The one early-stopping rule, shared by supervised training (a run's early_stopping, in
cvrepro.train.engine.fit) and the gradient-descent linear probes (S7's patience, in
cvrepro.train.linear_gd): stop once `patience` validation scores have
passed since the best one, where only a strictly better score counts as an improvement."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EarlyStop:
    patience: int
    lower_is_better: bool  # a loss; otherwise an accuracy
    best: float | None = None
    best_at: int | None = None  # the epoch or iteration of `best`

    def update(self, value: float, at: int) -> bool:
        """Record the score of epoch or iteration `at`; True when it is a new best."""
        if self.best is None or (value < self.best if self.lower_is_better else value > self.best):
            self.best, self.best_at = value, at
            return True
        return False

    def exhausted(self, at: int) -> bool:
        """True when `patience` scores have passed since the best one, at `at`."""
        return self.best_at is not None and at - self.best_at >= self.patience
