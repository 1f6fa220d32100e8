"""Zero-shot label mapping: a classifier's source classes (ImageNet) onto a target dataset's
classes plus `other`, through a class map shipped in workflow/resources/class_maps/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

CLASS_MAP_DIR = Path(__file__).resolve().parents[3] / "resources" / "class_maps"


@dataclass(frozen=True)
class ClassMap:
    name: str
    target_classes: list[str]  # the target dataset's classes, in its label order
    other: str  # the extra class every unmapped source class predicts
    source_to_target: dict[int, int]  # source index -> target index
    source_names: dict[int, str]  # source index -> name, as written in the map (for checks)

    @property
    def classes(self) -> list[str]:
        """Output classes: the target's, then `other`."""
        return [*self.target_classes, self.other]


def available() -> list[str]:
    return sorted(path.stem for path in CLASS_MAP_DIR.glob("*.yaml"))


def load_class_map(name: str, directory: Path = CLASS_MAP_DIR) -> ClassMap:
    path = Path(directory) / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(
            f"no class map {name!r} in {directory}; available: {', '.join(available()) or 'none'}"
        )
    spec = yaml.safe_load(path.read_text())
    source_to_target: dict[int, int] = {}
    source_names: dict[int, str] = {}
    for target, entries in enumerate(spec["classes"].values()):
        if "range" in entries:  # a contiguous block, e.g. ImageNet's 118 dog breeds
            first, last = entries["range"]
            entries = {i: None for i in range(first, last + 1)}
        for index, source_name in entries.items():
            if int(index) in source_to_target:
                raise ValueError(f"{path}: source class {index} is mapped twice")
            source_to_target[int(index)] = target
            if source_name is not None:
                source_names[int(index)] = source_name
    return ClassMap(name, list(spec["classes"]), spec.get("other", "other"), source_to_target, source_names)


def map_scores(source_scores, class_map: ClassMap):
    """Scores over the target classes + other: each target class gets the best score of its source
    classes, `other` the best of the rest. Its argmax is the mapped top-1 prediction of the source
    classifier (the report's rule: predict among all 1000 classes, then map)."""
    import numpy as np  # only the probe job that maps scores needs it; config checks read maps

    source_scores = np.asarray(source_scores, dtype=np.float64)
    groups = np.full(source_scores.shape[1], len(class_map.target_classes))
    for source, target in class_map.source_to_target.items():
        groups[source] = target
    mapped = np.full((len(source_scores), len(class_map.classes)), -np.inf)
    for group in range(len(class_map.classes)):
        members = groups == group
        if members.any():
            mapped[:, group] = source_scores[:, members].max(1)
    return mapped
