"""The final report of a study (REPORT.md) and the index of studies, from the tables, figures and
metrics the DAG made. Plain Markdown: readable on GitHub, in an editor, or as text."""

from __future__ import annotations

import pandas as pd

from cvrepro.tables import format_value


def reported_vs_ours(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every cell for which the source report gives a number: table, row, column, theirs, ours, diff."""
    rows = []
    for table, frame in tables.items():
        for column in frame.columns:
            if not column.endswith("_reported"):
                continue
            base = column.removesuffix("_reported")
            for row, theirs in frame[column].items():
                if pd.notna(theirs):
                    ours = frame.at[row, base]
                    rows.append(
                        {
                            "table": table,
                            "row": str(row),
                            "column": base,
                            "reported": float(theirs),
                            "ours": None if pd.isna(ours) else float(ours),
                            "diff": None if pd.isna(ours) else float(ours) - float(theirs),
                        }
                    )
    return pd.DataFrame(rows, columns=["table", "row", "column", "reported", "ours", "diff"])


def comparison_markdown(comparison: pd.DataFrame) -> str:
    if comparison.empty:
        return "The source report gives no numbers for these tables.\n"
    lines = ["| table | row | column | reported | ours | ours - reported |", "|---|---|---|---:|---:|---:|"]
    for item in comparison.itertuples():
        lines.append(
            f"| {item.table} | {item.row} | {item.column} | {format_value(item.column, item.reported)} | "
            f"{format_value(item.column, item.ours)} | {format_value(item.column + '_diff', item.diff)} |"
        )
    return "\n".join(lines) + "\n"


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


def study_report(
    study: str,
    description: str,
    tables: dict[str, tuple[str, pd.DataFrame]],
    figures: dict[str, str],
    jobs: dict[str, tuple[str, dict]],
    caveats: list[str],
    commit: str,
) -> str:
    """REPORT.md of one study. tables: name -> (markdown, frame); figures: name -> caption;
    jobs: name -> (run | pretraining, metrics.json)."""
    parts = [f"# Study `{study}`\n", description.strip() + "\n" if description.strip() else ""]
    parts.append("## Tables\n")
    for name, (markdown, _) in tables.items():
        parts += [f"### {name}\n", markdown, f"CSV: [tables/{name}.csv](tables/{name}.csv)\n"]
    if not tables:
        parts.append("This study defines no tables.\n")
    parts += [
        "## Reported vs ours\n",
        comparison_markdown(reported_vs_ours({n: f for n, (_, f) in tables.items()})),
    ]
    parts.append("## Figures\n")
    for name, caption in figures.items():
        parts += [
            f"### {name}\n",
            f"![{caption or name}](figures/{name}.png)\n",
            f"{caption}\n" if caption else "",
        ]
    if not figures:
        parts.append("This study defines no figures.\n")
    parts += ["## Hardware and time\n", jobs_markdown(jobs) if jobs else "No training jobs.\n"]
    parts.append("## Caveats\n")
    parts += [f"- {caveat}\n" for caveat in caveats] if caveats else ["None noted.\n"]
    parts.append(f"\nMade by cvrepro commit {commit}.\n")
    return "\n".join(part for part in parts if part)


def index_markdown(studies: dict[str, dict]) -> str:
    """results/REPORT.md: one line per study with its description, size and link."""
    lines = [
        "# cvrepro results\n",
        "| study | what it reproduces | runs | tables | figures | training time (min) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, info in studies.items():
        summary = " ".join(info["description"].split())
        summary = summary if len(summary) <= 160 else summary[:157] + "..."
        lines.append(
            f"| [{name}]({name}/REPORT.md) | {summary} | {info['runs']} | {info['tables']} | "
            f"{info['figures']} | {info['train_minutes']:.1f} |"
        )
    return "\n".join(lines) + "\n"
