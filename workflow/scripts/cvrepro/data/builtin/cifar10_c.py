"""cifar10_c: CIFAR-10-C, the published corruptions of CIFAR-10's test set, read by shift sets
with `source: cifar10_c` (all it shares with cifar100_c is in _cifar_c.py)."""

from __future__ import annotations

from cvrepro.data.builtin._cifar_c import declare
from cvrepro.data.builtin.cifar10 import CLASSES

KIND = declare("cifar10", "CIFAR-10-C", 2535967, "56bf5dcef84df0e2308c6dcbcbbd8499", 10, CLASSES)
