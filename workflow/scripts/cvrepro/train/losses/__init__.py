"""Every supervised loss a run can name (`loss.name`), one module each in this package: the loss
keys it reads, the auxiliary term it adds to cross-entropy and what that term learns beside the
model (LossKind, in kind.py).

The registry finds the modules itself (cvrepro.study.plugins), so a new loss is one file here
plus the schema's enum entry (tests/test_losses.py holds the two equal). Light: no torch at
import; each term imports what it computes with when it is called.
"""

from __future__ import annotations

from cvrepro.study.plugins import discover
from cvrepro.train.losses.kind import LossKind

LOSSES: dict[str, LossKind] = discover(__name__, __path__)  # type: ignore[assignment]

__all__ = ["LOSSES", "LossKind"]
