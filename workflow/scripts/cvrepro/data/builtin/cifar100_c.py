"""cifar100_c: CIFAR-100-C, the published corruptions of CIFAR-100's test set (without class
names), read by shift sets with `source: cifar100_c` (all it shares with cifar10_c is in
_cifar_c.py)."""

from __future__ import annotations

from cvrepro.data.builtin._cifar_c import declare

KIND = declare("cifar100", "CIFAR-100-C", 3555552, "11f0ed0f1191edbf9fa23466ae6021d3", 100, None)
