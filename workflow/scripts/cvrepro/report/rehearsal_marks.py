"""How a rehearsal's outputs say what they are: a line on every Markdown table and report, a
column in every CSV, a band across every figure. Its numbers come from one epoch on synthetic
images, so nothing may be mistaken for a result."""

from __future__ import annotations

from pathlib import Path

NOTE = "REHEARSAL on synthetic data: these numbers mean nothing"

REPORT_BANNER = (
    "> **This is a rehearsal, not a result.** `make rehearse` ran this study's full DAG (the same "
    "rules, jobs, tables, figures and report as the real run) on synthetic files in each dataset's "
    "real format, with subsets cut to a few images per class, one epoch of every training and a "
    "few iterations of every probe. ImageNet weights are random stand-ins of the same "
    "architecture: nothing was downloaded. Every number below means nothing; that every section "
    'exists is the point. "What the real run will cost" estimates the full run from the '
    "rehearsal's measured speed.\n"
)


def mark_markdown(markdown: str) -> str:
    return f"_{NOTE}._\n\n{markdown}"


def mark_frame(frame):
    """The table with a first column saying, in every row, that its numbers mean nothing."""
    marked = frame.copy()
    marked.insert(0, "rehearsal", NOTE)
    return marked


def stamp_png(path: Path) -> None:
    """A red band with the note across the top of a figure."""
    from PIL import Image, ImageDraw, ImageFont

    with Image.open(path) as original:
        image = original.convert("RGB")
    band = max(28, image.height // 16)
    stamped = Image.new("RGB", (image.width, image.height + band), (200, 30, 30))
    stamped.paste(image, (0, band))
    draw = ImageDraw.Draw(stamped)
    font = ImageFont.load_default(size=int(band * 0.6))
    draw.text((10, band // 2), NOTE, fill=(255, 255, 255), font=font, anchor="lm")
    stamped.save(path)
