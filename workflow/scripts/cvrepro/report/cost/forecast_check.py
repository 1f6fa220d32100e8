"""After a real run: its rehearsal's forecast beside the time each rule took (README "Before a
long run"), so a user learns how far to trust the next forecast.

The forecast is the JSON its rehearsal's REPORT.md carries (cvrepro.report.cost.plan.FORECAST_MARK);
the real times are Snakemake's own record of each job of the study (.snakemake/metadata, as
cvrepro.report.cost.forecast.recorded_jobs reads it). Read in the real run's report job, which runs
after every other job of the study; neither file is an input, so neither makes the report stale:
like training times, they describe how the results were made, not the results.
"""

from __future__ import annotations

import json
from pathlib import Path

from cvrepro.report.cost.forecast import by_rule, duration, recorded_jobs
from cvrepro.study import REAL, REHEARSAL

FORECAST_MARK = "<!-- cvrepro forecast: "


def read_forecast(report: Path) -> dict | None:
    """The forecast a rehearsal's REPORT.md carries, or None (no rehearsal, or one made before
    forecasts were recorded)."""
    if not report.is_file():
        return None
    for line in report.read_text().splitlines():
        if line.startswith(FORECAST_MARK) and line.endswith(" -->"):
            return json.loads(line.removeprefix(FORECAST_MARK).removesuffix(" -->"))
    return None


def forecast_check(study: str, workdir: Path) -> str:
    """Markdown: per rule, the forecast job time and the measured one with their ratio, and the
    study's wall time; "" when the study has no rehearsal forecast."""
    forecast = read_forecast(Path(workdir) / REHEARSAL.results / study / "REPORT.md")
    recorded = recorded_jobs(Path(workdir), (f"{REAL.results}/{study}/",))
    if forecast is None or not recorded:
        return ""
    measured = by_rule(
        [{"rule": rule, "seconds": end - start} for rule, spans in recorded.items() for start, end in spans]
    )
    lines = [
        f"Forecast by this study's rehearsal ({forecast['device']}, {forecast['slots']} jobs at once) beside "
        "what this run's jobs took (Snakemake's record of each job, first start to last output):",
        "",
        "| rule | jobs | forecast job time | measured | measured / forecast |",
        "|---|---:|---:|---:|---:|",
    ]
    for rule, entry in measured.items():
        predicted = forecast["rules"].get(rule)
        ratio = f"{entry['seconds'] / predicted:.2f}" if predicted else "-"
        shown = duration(predicted) if predicted is not None else "-"
        lines.append(f"| {rule} | {entry['jobs']} | {shown} | {duration(entry['seconds'])} | {ratio} |")
    spans = [span for spans in recorded.values() for span in spans]
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    lines += [
        "",
        f"Wall time from this study's first job to its last (this report excluded): {duration(wall)}; "
        f"forecast for the whole run: {duration(forecast['estimate'])} ({duration(forecast['low'])} to "
        f"{duration(forecast['high'])}), measured / forecast {wall / forecast['estimate']:.2f}.",
    ]
    return "\n".join(lines) + "\n"
