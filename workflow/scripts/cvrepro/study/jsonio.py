"""Write results as strict JSON (a NaN or infinity is an error naming the key, never a bare `NaN`
token that json.loads accepts but no other JSON reader does), and hash JSON-able specs."""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any


def first_non_finite(value: Any, path: tuple = ()) -> tuple[tuple, float] | None:
    """(key path, value) of the first NaN or infinity in a JSON-like value, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = first_non_finite(item, (*path, key))
        if found is not None:
            return found
    return None


def dotted(path: tuple) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def write_json(path: Path, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically; a non-finite number raises a one-line ValueError."""
    found = first_non_finite(obj)
    if found is not None:
        key, value = found
        raise ValueError(f"{path}: {dotted(key)} is {value}; JSON has no NaN or infinity, nothing written")
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text)
    os.replace(tmp, path)


def config_hash(spec: dict) -> str:
    """A short, stable hash of a JSON-able spec (key order does not matter)."""
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
