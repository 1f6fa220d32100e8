"""The final report of a study (REPORT.md) and the index of studies, from the tables, figures and
metrics the DAG made. Plain Markdown: readable on GitHub, in an editor, or as text."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cvrepro.report.rehearsal_marks import REPORT_BANNER
from cvrepro.report.table_markdown import format_value


def reported_vs_ours(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every cell for which the source report gives a number: table, row, column, theirs, ours
    (mean), our 95% interval, ours - theirs and the verdict."""
    rows = []
    for table, frame in tables.items():
        for column in [c for c in frame.columns if c.endswith("_reported")]:
            base = column.removesuffix("_reported")
            for row, theirs in frame[column].items():
                if pd.isna(theirs):
                    continue
                ours = frame.at[row, base]
                lo, hi = (
                    frame.at[row, f"{base}{s}"] if f"{base}{s}" in frame else None for s in ("_lo", "_hi")
                )
                rows.append(
                    {
                        "table": table,
                        "row": str(row),
                        "column": base,
                        "reported": float(theirs),
                        "ours": None if pd.isna(ours) else float(ours),
                        "lo": None if lo is None or pd.isna(lo) else float(lo),
                        "hi": None if hi is None or pd.isna(hi) else float(hi),
                        "diff": None if pd.isna(ours) else float(ours) - float(theirs),
                        "verdict": frame.at[row, f"{base}_verdict"] if f"{base}_verdict" in frame else "",
                    }
                )
    return pd.DataFrame(
        rows, columns=["table", "row", "column", "reported", "ours", "lo", "hi", "diff", "verdict"]
    )


def comparison_markdown(comparison: pd.DataFrame) -> str:
    """The report's numbers beside ours, with how many lie within our 95% interval."""
    if comparison.empty:
        return "The source report gives no numbers for these tables.\n"
    within = int((comparison["verdict"] == "within").sum())
    lines = [
        f"**{within} of {len(comparison)} reported numbers lie within our 95% interval.**",
        "",
        "| table | row | column | reported | ours | our 95% interval | ours - reported | verdict |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for item in comparison.itertuples():
        interval = (
            "–"
            if item.lo is None or pd.isna(item.lo)
            else f"[{format_value(item.column, item.lo)}, {format_value(item.column, item.hi)}]"
        )
        lines.append(
            f"| {item.table} | {item.row} | {item.column} | {format_value(item.column, item.reported)} | "
            f"{format_value(item.column, item.ours)} | {interval} | {format_value(item.column + '_diff', item.diff)} | "
            f"{item.verdict} |"
        )
    return "\n".join(lines) + "\n"


def differences_markdown(comparisons: dict[str, pd.DataFrame]) -> str:
    """The study's paired comparisons: the real differences (interval excludes 0) first, then
    every other one called inconclusive at its n."""
    found = [(table, item) for table, frame in comparisons.items() for item in frame.itertuples()]
    if not found:
        return "This study compares no rows.\n"
    lines = []
    for real in (True, False):
        chosen = [(t, i) for t, i in found if (i.verdict == "real") == real]
        if not chosen:
            continue
        lines += ["Real differences (95% interval excludes 0):" if real else "Inconclusive at this n:", ""]
        for table, item in chosen:
            interval = (
                ""
                if pd.isna(item.lo)
                else f" [{format_value(item.column + '_diff', item.lo)}, {format_value(item.column + '_diff', item.hi)}]"
            )
            p = "" if pd.isna(item.p) else f", p = {item.p:.3g}"
            lines.append(
                f"- {item.a} - {item.b}, {item.column} ({table}): {format_value(item.column + '_diff', item.diff)}"
                f"{interval}{p} (n = {item.n})"
            )
        lines.append("")
    return "\n".join(lines)


def fidelity_markdown(items: list[dict]) -> str:
    """How far the study follows its source report: one row per recipe element."""
    if not items:
        return "This study lists no fidelity items.\n"
    counts = {
        status: sum(i["status"] == status for i in items) for status in ("same", "departs", "report_silent")
    }
    lines = [
        f"{counts['same']} items as the report, {counts['departs']} departures, "
        f"{counts['report_silent']} where the report is silent (our choice).",
        "",
        "| what | the report | ours | status | why |",
        "|---|---|---|---|---|",
    ]
    for item in items:
        # `report` holds the report's words only; how a value follows from them and text from
        # another source (a library's example) are the item's own fields, shown with the why.
        why = " ".join(
            part
            for part in (
                item["why"],
                f"Derived from the quote: {item['derived']}" if item.get("derived") else "",
                f"Source (not the report): {item['source']}" if item.get("source") else "",
            )
            if part
        )
        cells = [item["what"], item["report"] or "(silent)", item["ours"], item["status"], why]
        lines.append("| " + " | ".join(" ".join(str(c).split()).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def collapse_caveats(jobs: dict[str, tuple]) -> list[str]:
    """A line per pretraining whose last epoch fell toward collapse (its metrics.json's
    collapse_warning: cvrepro.train.collapse's thresholds, output std x sqrt(d) < 0.2 or effective
    rank < 2)."""
    return [
        f"pretraining `{name}`: {metrics['collapse_warning']} at its last epoch"
        for name, (kind, metrics) in jobs.items()
        if metrics.get("collapse_warning")
    ]


def jobs_markdown(jobs: dict[str, dict]) -> str:
    """Hardware and time of every training and pretraining job."""
    lines = [
        "| job | kind | device | host | epochs | images | training time (s) | images/s |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    for name, (kind, metrics) in jobs.items():
        prov = metrics.get("provenance", {})
        seconds = metrics.get("train_time_s")
        images = metrics.get("train_images")
        epochs = metrics.get("epochs")
        rate = images * epochs / seconds if seconds and images and epochs else None
        lines.append(
            f"| {name} | {kind} | {prov.get('device') or '?'} | {prov.get('host') or '?'} | {epochs} | {images} | "
            f"{seconds:.1f} | {rate:.0f} |"
            if seconds is not None and rate is not None
            else f"| {name} | {kind} | {prov.get('device') or '?'} | {prov.get('host') or '?'} | {epochs} | {images} | – | – |"
        )
    total = sum(m.get("train_time_s") or 0 for _, m in jobs.values())
    return "\n".join(lines) + f"\n\nTotal training time: {total:.0f} s ({total / 60:.1f} min).\n"


REPLICATES_NOTE = (
    "Cells over n > 1 replicates show mean ± sd (n) and the CSV a 95% t-interval; replicate k "
    "trains with seed + k (initialisation, data order, augmentation) on the same subsets. One "
    "replicate of an accuracy shows its 95% Wilson interval from the number of images it was "
    "measured on: test-set sampling alone."
)


@dataclass(frozen=True)
class StudyText:
    """What a study's config says of itself, as its report shows it."""

    name: str
    description: str
    captions: dict[str, str]  # figure name -> caption
    caveats: list[str]
    fidelity: list[dict]  # the config's fidelity items


def study_report(
    study: StudyText,
    tables: dict[str, tuple[str, pd.DataFrame, pd.DataFrame]],
    jobs: dict,
    commit: str,
    rehearsal_cost: str | None = None,
    fetch: str = "",
    first_lines: str = "",
    forecast_check: str = "",
    data_cards: str = "",
    preprocessing: str = "",
) -> str:
    """REPORT.md of one study. tables: name -> (markdown, frame, comparisons); jobs: name ->
    (run | pretraining, its metrics.json); rehearsal_cost: a rehearsal's estimate of the full
    run (cvrepro.report.cost.plan), None for a real run; fetch: a rehearsal's list of what the real
    run will fetch, first_lines what it cannot fetch by itself (cvrepro.report.cost.fetches);
    forecast_check: a real run's time per rule beside its rehearsal's forecast; data_cards: the
    data cards of the study's own datasets (cvrepro/data/sources/_card.py);
    preprocessing: how its ImageNet models prepare images (cvrepro.nets.preprocess_table)."""
    description = study.description.strip()
    title = (
        f"# Rehearsal of study `{study.name}`\n"
        if rehearsal_cost is not None
        else f"# Study `{study.name}`\n"
    )
    parts = [
        title,
        first_lines,
        REPORT_BANNER if rehearsal_cost is not None else "",
        description + "\n" if description else "",
    ]
    if fetch:
        parts += ["## What the real run will fetch\n", fetch]
    if rehearsal_cost is not None:
        parts += ["## What the real run will cost\n", rehearsal_cost]
    if data_cards:
        parts += ["## Data\n", data_cards]
    if preprocessing:
        parts += ["## Preprocessing per model\n", preprocessing]
    parts.append("## Tables\n")
    parts.append(REPLICATES_NOTE + "\n" if tables else "")
    for name, (markdown, _, _) in tables.items():
        parts += [f"### {name}\n", markdown, f"CSV: [tables/{name}.csv](tables/{name}.csv)\n"]
    if not tables:
        parts.append("This study defines no tables.\n")
    parts += [
        "## Differences between runs\n",
        differences_markdown({n: c for n, (_, _, c) in tables.items() if not c.empty}),
    ]
    reported = reported_vs_ours({n: f for n, (_, f, _) in tables.items()})
    if study.fidelity or not reported.empty:  # a study of a source report (a user's own has none)
        parts += [
            "## Reported vs ours\n",
            comparison_markdown(reported),
            "## How far this study follows its report\n",
            fidelity_markdown(study.fidelity),
        ]
    parts.append("## Figures\n")
    for name, caption in study.captions.items():
        parts += [
            f"### {name}\n",
            f"![{caption or name}](figures/{name}.png)\n",
            f"{caption}\n" if caption else "",
        ]
    if not study.captions:
        parts.append("This study defines no figures.\n")
    parts += [
        "## Hardware and time\n",
        jobs_markdown(jobs) if jobs else "No training jobs.\n",
        forecast_check,
    ]
    parts.append("## Caveats\n")
    caveats = [*study.caveats, *collapse_caveats(jobs)]
    parts += [f"- {caveat}\n" for caveat in caveats] if caveats else ["None noted.\n"]
    parts.append(f"\nMade by cvrepro commit {commit}.\n")
    return "\n".join(part for part in parts if part)
