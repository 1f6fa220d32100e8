"""How far to trust the rehearsal's forecast (README "Before a long run"): rehearse a study, run it
for real from nothing, and print the forecast, the real wall time and their ratio (the target:
0.67-1.5), then each rule's forecast job time beside what it took.

    .venv/bin/python benchmarks/forecast.py                     # the default study and the template
    .venv/bin/python benchmarks/forecast.py --study template    # studies/README.md's template only
    .venv/bin/python benchmarks/forecast.py --study embedded --cores 2

Each study runs in a fresh temporary working directory (-d), as `make rehearse` and `make run`
would run it there (`--cores`, `--resources gpu=<cores>` on a machine without a GPU), so nothing
touches the repository's own results. Not a test: it takes as long as the real runs (the default
study: about 9 minutes on the 2-core build machine).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

from cvrepro.report.cost.forecast import duration  # noqa: E402
from cvrepro.report.cost.forecast_check import forecast_check, read_forecast  # noqa: E402

SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def template_study() -> dict:
    """The study of studies/README.md's first YAML block (what a new user copies)."""
    text = (REPO / "studies" / "README.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    if block is None:
        raise SystemExit("studies/README.md: no ```yaml block with the template study")
    return yaml.safe_load(block.group(1))


def config_for(study: str) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    if study == "template":
        config["inline_studies"] = {**config.get("inline_studies", {}), "template": template_study()}
    return {**config, "studies": [study]}


def snakemake(workdir: Path, config: dict, *args: str) -> float:
    """Seconds of one snakemake call on the repository's workflow in `workdir`."""
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir)]
    command += ["--configfile", str(workdir / "config.yaml"), *args]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=workdir)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def measure(study: str, cores: int, gpu: str | None) -> dict:
    """Rehearse `study`, then run it for real, in one fresh working directory."""
    with tempfile.TemporaryDirectory(prefix=f"cvrepro-forecast-{study}-") as tmp:
        work = Path(tmp)
        config = config_for(study)
        resources = ["--cores", str(cores), "--resources", f"gpu={cores}"]
        extra = ["--config", "rehearsal=true", *([f"forecast_gpu={gpu}"] if gpu else [])]
        rehearsal = snakemake(work, config, *resources, *extra)
        forecast = read_forecast(work / "results-rehearsal" / study / "REPORT.md")
        if forecast is None:
            raise SystemExit(f"{study}: the rehearsal's REPORT.md carries no forecast")
        real = snakemake(work, config, *resources)
        return {
            "study": study,
            "rehearsal": rehearsal,
            "forecast": forecast,
            "real": real,
            "rules": forecast_check(study, work),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", action="append", help="embedded, template or a studies/ name (repeatable)")
    parser.add_argument("--cores", type=int, default=2, help="--cores of both runs (default 2)")
    parser.add_argument("--gpu", help="also forecast this GPU (a100, h100, ...) in the rehearsal")
    args = parser.parse_args(argv)
    found = [measure(study, args.cores, args.gpu) for study in args.study or ["embedded", "template"]]
    print("| study | rehearsal | forecast (range) | real run | real / forecast |")
    print("|---|---:|---|---:|---:|")
    for row in found:
        f = row["forecast"]
        print(
            f"| {row['study']} | {duration(row['rehearsal'])} | {duration(f['estimate'])} "
            f"({duration(f['low'])} to {duration(f['high'])}) | {duration(row['real'])} | "
            f"{row['real'] / f['estimate']:.2f} |"
        )
    for row in found:
        print(f"\n{row['study']}, per rule:\n\n{row['rules']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
