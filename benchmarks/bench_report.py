"""The benchmark's result rows and how they are printed and written (Markdown and CSV)."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass
class Row:
    benchmark: str  # what is measured: training, feature extraction, SimCLR, probe fit, DAG build, ...
    data: str  # which data and its shape, real or synthetic
    setting: str  # model, batch size, epochs: what makes the number comparable
    method: str  # whose code: cvrepro, the seed-style loop, a scikit-learn probe, snakemake -n
    value: float
    unit: str  # images/s, s, % test accuracy
    note: str = ""  # e.g. the speed-up over the seed-style row of the same benchmark and data

    def formatted(self) -> str:
        if self.unit == "s":
            return f"{self.value:.2f}"
        if self.unit.startswith("%"):
            return f"{self.value:.1f}"
        return f"{self.value:,.0f}"


COLUMNS = [f.name for f in fields(Row)]


def markdown(rows: list[Row], header: list[str]) -> str:
    """The hardware/setup lines, then one table row per measurement."""
    lines = [*header, ""] if header else []
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * 4 + "---:|---|---|"]
    for row in rows:
        cells = [row.benchmark, row.data, row.setting, row.method, row.formatted(), row.unit, row.note]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write(rows: list[Row], header: list[str], out_dir: Path, name: str) -> tuple[Path, Path]:
    """benchmarks/results/<name>.md and .csv; the CSV has the raw (unrounded) values."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, csv_path = out_dir / f"{name}.md", out_dir / f"{name}.csv"
    md_path.write_text(markdown(rows, header))
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)
    return md_path, csv_path
